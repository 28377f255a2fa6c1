"""Page types of a tenant's content site (tenant schema)."""

from django.db import models
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index


class HomePage(Page):
    """The tenant site's front page: a short introduction and the pages people need most."""

    intro = models.TextField(blank=True, help_text="One or two sentences under the site name.")

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    search_fields = [*Page.search_fields, index.SearchField("intro")]
    max_count_per_parent = 1

    class Meta:
        verbose_name = "home page"

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["top_tasks"] = self.get_children().live().public().specific()[:12]
        return context


class StandardPage(Page):
    """A plain content page: contact, accessibility statement, privacy notice, guides."""

    summary = models.TextField(blank=True, help_text="Shown in lists and search results.")
    body = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("summary"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]

    class Meta:
        verbose_name = "standard page"
