"""paginate(..., count_with_rows=True) and paginate_compiled: the same pages as Django's
paginator, in one query."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accessgroups.core import compiled
from accessgroups.models import User
from accessgroups.web.common import COMPILED_PAGES, paginate, paginate_compiled

pytestmark = pytest.mark.django_db

PER_PAGE = 3


def _page(queryset, number, *, build=None, **options):
    query = {} if number is None else {"page": number}
    request = RequestFactory().get("/", query)
    with CaptureQueriesContext(connection) as captured:
        if build is None:
            page = paginate(request, queryset, per_page=PER_PAGE, **options)
        else:
            page = paginate_compiled(request, "people", build, (0,), per_page=PER_PAGE)
        shown = [u.username for u in page.object_list]
        summary = (shown, page.number, page.paginator.count, page.paginator.num_pages)
        summary += (page.has_next(), page.has_previous(), page.start_index(), page.end_index())
    return summary, len(captured)


def _django(queryset, number):
    page = Paginator(queryset, PER_PAGE).get_page(number)
    shown = [u.username for u in page.object_list]
    return (shown, page.number, page.paginator.count, page.paginator.num_pages) + (
        page.has_next(),
        page.has_previous(),
        page.start_index(),
        page.end_index(),
    )


@pytest.mark.parametrize("people", [0, 1, 3, 7])
def test_every_page_is_djangos_and_takes_one_query(make_user, people):
    for n in range(people):
        make_user(f"p{n:02d}")
    everyone = User.objects.filter(username__startswith="p").order_by("username")
    pages = max(1, -(-people // PER_PAGE))
    for number in [None, *map(str, range(1, pages + 1))]:
        found, queries = _page(everyone, number, count_with_rows=True)
        assert found == _django(everyone, number)
        assert queries == 1
    # Not a page (past the last, below 1, not a number): the page Django's paginator gives.
    for number in [str(pages + 1), "99", "0", "-2", "x", "2.5", "", "9" * 30]:
        found, _ = _page(everyone, number, count_with_rows=True)
        assert found == _django(everyone, number), number


def test_without_it_and_for_distinct_rows_the_paginator_counts(make_user):
    for n in range(4):
        make_user(f"p{n:02d}")
    everyone = User.objects.filter(username__startswith="p").order_by("username")
    found, queries = _page(everyone, "2")
    assert found == _django(everyone, "2") and queries == 2
    # DISTINCT comes after the window, which would count the repeats it removes.
    distinct = everyone.distinct()
    found, queries = _page(distinct, "1", count_with_rows=True)
    assert found == _django(distinct, "1") and queries == 2


def test_the_pages_that_use_it_answer_any_page_number(client_for, bob, readonly):
    from django.urls import reverse

    client = client_for(bob)
    for name in ("web:catalogue", "web:my-requests", "web:my-access", "web:approvals"):
        for number in ("9" * 30, "-1", "x", "2"):
            assert client.get(reverse(name), {"page": number}).status_code == 200, (name, number)


@pytest.mark.parametrize("people", [0, 1, 3, 7, 3 * (COMPILED_PAGES + 1) + 1])
def test_compiled_pages_are_djangos_in_one_query_built_once_per_page(make_user, people):
    compiled.forget()
    for n in range(people):
        make_user(f"p{n:02d}")
    built = []

    def build(floor):
        built.append(floor)
        return User.objects.filter(pk__gt=floor, username__startswith="p").order_by("username")

    everyone = build(0)
    pages = max(1, -(-people // PER_PAGE))
    for number in [None, *map(str, range(1, pages + 1)), "1"]:
        built.clear()
        found, queries = _page(None, number, build=build)
        assert found == _django(everyone, number), number
        late = number is not None and int(number) > COMPILED_PAGES
        assert queries == 1, number
        # The first pages' SQL is built with stand-ins, once per process (twice: the build
        # and its check); a later page's with the value, each time.
        assert 0 not in built if not late else built == [0], (number, built)
    for number in [str(pages + 1), "0", "x", "9" * 30]:
        found, _ = _page(None, number, build=build)
        assert found == _django(everyone, number), number
    compiled.forget()


def test_compiled_pages_refuse_a_list_not_counted_with_its_rows(make_user):
    compiled.forget()
    make_user("p00")
    with pytest.raises(TypeError, match="not counted with its rows"):
        _page(None, "1", build=lambda floor: User.objects.filter(pk__gt=floor).distinct())
    compiled.forget()
