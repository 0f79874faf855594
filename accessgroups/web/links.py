"""Links: Django's ``{% url %}``, with each answer kept per process.

A page reverses 12 to 50 URLs (the menu, the header, a link or a form on every row), 17 µs
each, a twentieth of a page's time. A URL depends only on the URLconf, the script prefix
and what the tag names, so for a view name with int and str arguments (every link the
portal writes) the answer is kept, the URLconf and the script prefix in the key. The portal
has no translated URL patterns; a ``{% url %}`` with any other kind of argument (an object,
a lazy string) is reversed as Django does.

The tag replaces Django's own in every template (``TEMPLATES`` ``builtins``): the same
syntax, ``as var`` included, and the same errors.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()


def _plain(value) -> bool:
    # Safe strings are strs; True would be kept under the key of 1.
    return isinstance(value, int | str) and type(value) is not bool


@lru_cache(maxsize=8192)
def _reversed(urlconf, _root, _prefix, view_name, args, kwargs, current_app) -> str:
    return reverse(
        view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app
    )


def link(view_name: str, args=(), kwargs=None, current_app: str | None = None) -> str:
    """``reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)``, kept per
    process when every argument is an int or a str."""
    pairs = tuple(sorted(kwargs.items())) if kwargs else ()
    if (
        isinstance(view_name, str)
        and (current_app is None or isinstance(current_app, str))
        and all(_plain(value) for value in args)
        and all(_plain(value) for _, value in pairs)
    ):
        return _reversed(
            get_urlconf(),
            settings.ROOT_URLCONF,
            get_script_prefix(),
            view_name,
            tuple(args),
            pairs,
            current_app,
        )
    return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)


def forget() -> None:
    """Drops every kept URL (a test that changes URL patterns in place)."""
    _reversed.cache_clear()


class LinkNode(URLNode):
    def render(self, context) -> str:
        # Django's URLNode.render, with link() for reverse().
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = link(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token) -> LinkNode:
    node = django_url(parser, token)
    return LinkNode(node.view_name, node.args, node.kwargs, node.asvar)
