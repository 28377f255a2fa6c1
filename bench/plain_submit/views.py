"""The baseline's one view: the building-permit form (the same questions as demo/forms.py's,
without the file) validated by a Django form and saved, then a redirect, as a Django tutorial
would write it."""

from django import forms
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from .models import Application

CONTACT = ("applicant_name", "applicant_email", "applicant_phone")


class PermitForm(forms.Form):
    applicant_name = forms.CharField(max_length=200)
    applicant_email = forms.EmailField(required=False)
    applicant_phone = forms.CharField(max_length=24, required=False)
    object_name = forms.CharField(max_length=200)
    site_0 = forms.CharField(max_length=200)
    site_1 = forms.CharField(max_length=200, required=False)
    site_2 = forms.CharField(max_length=200)
    site_3 = forms.CharField(max_length=10)
    floors = forms.IntegerField(min_value=1, max_value=30)


@require_POST
def submit(request):
    form = PermitForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    data = form.cleaned_data
    application = Application.objects.create(
        answers={k: v for k, v in data.items() if k not in CONTACT},
        **{k: data[k] for k in CONTACT})
    request.session["done"] = application.pk
    return HttpResponseRedirect("/done/")
