"""Wagtail's oEmbed finder, built when an embed is first looked up, not at start-up.

`wagtail.embeds`' `ready()` builds every configured finder "to check the configuration", and
Wagtail's default one, `wagtail.embeds.finders.oembed`, imports `requests` (urllib3, charset
detection, cookie jars) and compiles a regular expression for each URL pattern of some 140
providers: about a tenth of the CPU of `dgbox tenant list`, in every web, worker and CLI
process, for a finder used only when an editor embeds a video (docs/benchmarks.md, CLI
start-up). `WAGTAILEMBEDS_FINDERS` (dgbox/settings/base.py) names this module instead: the same
finder with the same providers and options, built on its first `accept()`.
"""

from functools import cached_property
from typing import Any

from wagtail.embeds.finders.base import EmbedFinder


class DeferredOEmbedFinder(EmbedFinder):
    """Wagtail's `OEmbedFinder` with the options given, built when first asked about a URL."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @cached_property
    def finder(self) -> EmbedFinder:
        # Imported here, not at the top: that import is what this class defers (see above).
        from wagtail.embeds.finders.oembed import OEmbedFinder  # noqa: PLC0415

        return OEmbedFinder(**self.options)

    def accept(self, url: str) -> bool:
        return self.finder.accept(url)

    def find_embed(self, url: str, max_width: int | None = None,
                   max_height: int | None = None) -> dict[str, Any]:
        return self.finder.find_embed(url, max_width=max_width, max_height=max_height)


embed_finder_class = DeferredOEmbedFinder
