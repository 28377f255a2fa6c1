"""Wagtail's admin under the Content-Security-Policy (docs/security.md, "Headers").

Wagtail 8 still writes a few inline `<script>`s of its own (wagtail issue 1288): the
initialisers of chooser widgets (`BaseChooser.render`), of date and time inputs (their widget
templates) and of inline panels (their panel templates). Without the request's nonce the
browser refuses them and those fields stop working. The panel templates are overridden in
dgbox/templates/wagtailadmin/panels/ with the nonce; widgets are rendered by form renderers
that have no request, so their `render()` is wrapped here to put the nonce (read from the
request being answered, dgbox.headers) on the one `<script>` tag Wagtail writes. Only that
literal tag is touched: values in the widget's HTML are escaped by Wagtail, so a `<script>`
in them cannot appear there. jQuery copies the nonce when it runs such a script from HTML
Wagtail inserts later (an inline panel's new form).
"""

from functools import wraps

from django.utils.safestring import SafeString, mark_safe
from wagtail.admin.filters import DateRangePickerWidget
from wagtail.admin.widgets import AdminDateInput, AdminDateTimeInput, AdminTimeInput
from wagtail.admin.widgets.chooser import BaseChooser

from dgbox.headers import csp_nonce

#: DateRangePickerWidget (listing filters) renders its date inputs through its own template,
#: not their render(): it is wrapped too.
WIDGETS = (BaseChooser, AdminDateInput, AdminTimeInput, AdminDateTimeInput,
           DateRangePickerWidget)


def _with_nonce(render):
    @wraps(render)
    def render_with_nonce(self, *args, **kwargs) -> SafeString:
        html = render(self, *args, **kwargs)
        nonce = csp_nonce()
        if not nonce:
            return html
        return mark_safe(  # noqa: S308 - Wagtail's own safe HTML, one tag given an attribute # nosec B308 B703
            str(html).replace("<script>", f'<script nonce="{nonce}">'))

    render_with_nonce.dgbox_nonce = True  # type: ignore[attr-defined]
    return render_with_nonce


def install() -> None:
    """Wrap the widgets' render() once (called from CmsConfig.ready)."""
    for widget in WIDGETS:
        render = widget.render  # its own, or the one it inherits
        if not getattr(render, "dgbox_nonce", False):
            widget.render = _with_nonce(render)
