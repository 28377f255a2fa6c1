"""The maturity assessment in the tenant's Wagtail admin ("Assessment" in the menu): the
rounds and their history, a round's scores (radar chart and table, against the previous
approved round), the questionnaire one dimension a page, the workflow's buttons, and a
printable report. Plain forms and links: everything works without JavaScript. Each change goes
through `workflow`, which audits it."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods, require_POST
from wagtail.admin import messages

from cms.viewsets import AdminSection
from tenants.console.charts import radar_chart

from . import framework, workflow
from .forms import AnswerForm, ReturnForm
from .models import Answer, Round


def _may_see(user) -> bool:
    return workflow.may_answer(user) or workflow.may_approve(user)


#: "Assessment" in the admin menu, for staff who answer or approve; its routes:
#: wagtail_hooks.py. It offers "Can change assessment round" in Settings → Groups: staff who
#: answer and submit the questionnaire without being administrators (approving stays with
#: administrators).
section = AdminSection("assessment", menu_label=_l("Assessment"), icon="tasks",
                       add_to_admin_menu=True, menu_order=270, may_see=_may_see,
                       permission=("assessment", "change_round"))


def _previous(round_: Round) -> Round | None:
    return (Round.objects.filter(status=Round.Status.APPROVED, number__lt=round_.number)
            .order_by("-number").first())


def _indicator_row(indicator, level, answer):
    return {"indicator": indicator, "title": framework.text(indicator.title), "level": level,
            "criteria": indicator.criteria(level) if level else "", "answer": answer}


def _dimension_rows(model, scores, previous_scores, answers):
    return [{"dimension": d, "title": framework.text(d.title), "score": scores.dimensions[d.code],
             "previous": previous_scores.dimensions.get(d.code) if previous_scores else None,
             "indicators": [_indicator_row(i, scores.indicators.get(i.code), answers.get(i.code))
                            for i in d.indicators]}
            for d in model.dimensions]


def _radar(model, scores, previous, previous_scores):
    axes = [(framework.text(d.title), scores.dimensions[d.code]) for d in model.dimensions]
    compare = ([(framework.text(d.title), previous_scores.dimensions.get(d.code))
                for d in model.dimensions] if previous_scores else None)
    return radar_chart(axes, title=_("Maturity by dimension"), compare=compare,
                       compare_name=_("round %(n)s") % {"n": previous.number} if previous
                       else "")


def _round_context(round_: Round) -> dict[str, Any]:
    model = framework.get(round_.model_version)
    scores = workflow.scores(round_)
    previous = _previous(round_)
    previous_scores = workflow.scores(previous) if previous else None
    answers = {a.indicator: a for a in round_.answers.all()}
    automatic = [{"indicator": i, "title": framework.text(i.title),
                  **(round_.automatic or {}).get(i.code, {})}
                 for i in model.indicators() if i.automatic]
    return {"round": round_, "model": model, "model_title": framework.text(model.title),
            "scores": scores, "previous": previous,
            "rows": _dimension_rows(model, scores, previous_scores, answers),
            "radar": _radar(model, scores, previous, previous_scores),
            "answers": answers, "automatic": automatic,
            "levels": [(n, model.level_name(n)) for n in range(1, 6)]}


@section.guard
def index(request):
    rounds = list(Round.objects.select_related("opened_by", "approved_by"))
    model = framework.current()
    history = []
    for r in rounds:
        scores = workflow.scores(r)
        history.append({"round": r, "overall": scores.overall,
                        "cells": [scores.dimensions.get(d.code) for d in model.dimensions]})
    return section.page(request, "assessment/index.html", _("Assessment"), {
        "history": history, "in_progress": next((r for r in rounds if not r.frozen), None),
        "dimensions": [(d.code, framework.text(d.title)) for d in model.dimensions],
        "may_open": workflow.may_answer(request.user)})


@section.guard
@require_POST
def open_round(request):
    if not workflow.may_answer(request.user):
        raise PermissionDenied
    try:
        round_ = workflow.open_round(request.user)
    except workflow.AssessmentError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(reverse("assessment:index"))
    messages.success(request, _("Round %(n)s opened: the automatic indicators are measured; "
                                "answer the questionnaire below.") % {"n": round_.number})
    return HttpResponseRedirect(reverse("assessment:round", args=[round_.number]))


@section.guard
def round_detail(request, number):
    round_ = get_object_or_404(Round, number=number)
    context = _round_context(round_)
    user = request.user
    context.update({
        "may_answer": round_.status == Round.Status.OPEN and workflow.may_answer(user),
        "may_review": (round_.status == Round.Status.SUBMITTED and workflow.may_approve(user)
                       and round_.submitted_by_id != user.pk),
        "return_form": ReturnForm()})
    return section.page(request, "assessment/round.html",
                 _("Assessment round %(n)s") % {"n": round_.number}, context,
                 crumbs=[("", _("Round %(n)s") % {"n": round_.number})])


def _errors(forms_):
    return [(form[name].auto_id, f"{framework.text(form.indicator.title)}: {message}")
            for form in forms_ for name, messages_ in form.errors.items()
            for message in messages_]


@section.guard
@require_http_methods(["GET", "POST"])
def questionnaire(request, number, dimension):
    round_ = get_object_or_404(Round, number=number)
    model = framework.get(round_.model_version)
    found = model.dimension(dimension)
    if found is None:
        raise Http404
    editable = round_.status == Round.Status.OPEN and workflow.may_answer(request.user)
    if request.method == "POST" and not editable:
        raise PermissionDenied
    manual = [i for i in found.indicators if not i.automatic]
    answers = {a.indicator: a for a in Answer.objects.filter(round=round_)}
    forms_ = []
    for indicator in manual:
        answer = answers.get(indicator.code)
        initial = ({"level": answer.level, "justification": answer.justification,
                    "evidence": "\n".join(answer.evidence)} if answer else {})
        forms_.append(AnswerForm(request.POST or None, indicator=indicator, model=model,
                                 initial=initial))
    if request.method == "POST" and all(form.is_valid() for form in forms_):
        try:
            for form in forms_:
                workflow.save_answer(round_, form.indicator.code, user=request.user,
                                     **form.cleaned_data)
        except workflow.AssessmentError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Answers on “%(dimension)s” saved.") % {
                "dimension": framework.text(found.title)})
        codes = [d.code for d in model.dimensions]
        following = codes.index(found.code) + 1
        if "next" in request.POST and following < len(codes):
            return HttpResponseRedirect(reverse("assessment:questionnaire",
                                                args=[round_.number, codes[following]]))
        return HttpResponseRedirect(reverse("assessment:round", args=[round_.number]))
    automatic = [{"indicator": i, "title": framework.text(i.title),
                  **(round_.automatic or {}).get(i.code, {})}
                 for i in found.indicators if i.automatic]
    title = framework.text(found.title)
    return section.page(request, "assessment/questionnaire.html", title, {
        "round": round_, "dimension": found, "dimension_title": title, "forms": forms_,
        "errors": _errors(forms_), "editable": editable, "automatic": automatic,
        "dimensions": [(d.code, framework.text(d.title)) for d in model.dimensions]},
        crumbs=[(reverse("assessment:round", args=[round_.number]),
                 _("Round %(n)s") % {"n": round_.number}), ("", title)],
        status=400 if any(form.errors for form in forms_) else 200)


STEPS = {"refresh", "submit", "approve", "return"}


@section.guard
@require_POST
def step(request, number, name):
    if name not in STEPS:
        raise Http404
    round_ = get_object_or_404(Round, number=number)
    user = request.user
    try:
        if name == "refresh":
            if not workflow.may_answer(user):
                raise PermissionDenied
            workflow.refresh_automatic(round_)
            messages.success(request, _("The automatic indicators were measured again."))
        elif name == "submit":
            if not workflow.may_answer(user):
                raise PermissionDenied
            workflow.submit(round_, user)
            messages.success(request, _("Round submitted: another administrator approves it "
                                        "or returns it to you."))
        elif name == "approve":
            workflow.approve(round_, user)
            messages.success(request, _("Round approved: its scores are final and shared "
                                        "with the platform's operators for comparison."))
        else:
            form = ReturnForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Say what needs changing before returning the "
                                          "round."))
            else:
                workflow.return_round(round_, user, form.cleaned_data["note"])
                messages.success(request, _("Round returned for changes."))
    except workflow.AssessmentError as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(reverse("assessment:round", args=[round_.number]))


@section.guard
def report(request, number):
    """The round as a clean page for printing or saving as PDF from the browser."""
    round_ = get_object_or_404(Round, number=number)
    context = _round_context(round_)
    response = TemplateResponse(request, "assessment/report.html", context)
    response["Cache-Control"] = "no-store"
    return response
