"""Body repairs that need the page's structure: split bodies merged, one article per page."""

from __future__ import annotations

from crawler.bodies import find_twins, repair_body
from crawler.extraction import agrees_with, parse_html

P1 = "The first paragraph of the story tells what happened on the quay this morning."
P2 = "The second paragraph gives the harbour master's account of the night's events."
P3 = "The third paragraph, after an advertisement slot, explains what happens next week."
P4 = "The fourth paragraph ends the story with a quote from the mayor of the small town."
TEASER = "Another story entirely, about the regatta, shown below this one as a teaser block."


def test_body_split_by_ad_slots_is_merged_in_page_order():
    page = parse_html(
        "<html><body><article><h1>Story</h1><div class='chunks'>"
        f"<div class='grid'><div class='body__text'><p>{P1}</p><p>{P2}</p></div></div>"
        "<div class='grid'><div class='ad'>Advertisement</div></div>"
        f"<div class='grid'><div class='body__text'><p>{P3}</p><p>{P4}</p></div></div>"
        "</div></article></body></html>"
    )
    assert repair_body(page, f"{P1}\n{P2}") == f"{P1}\n{P2}\n{P3}\n{P4}"


def test_twins_need_a_class_in_common():
    page = parse_html(
        f"<html><body><div><div><p>{P1}</p><p>{P2}</p></div><div><p>{P3}</p></div></div></body></html>"
    )
    container = page.xpath("//p")[0].getparent()
    assert find_twins(container) == []
    assert repair_body(page, f"{P1}\n{P2}") == f"{P1}\n{P2}"


def test_link_lists_in_a_twin_are_not_merged():
    links = "".join(f"<p><a href='/{i}'>{P3} {i}</a></p>" for i in range(3))
    page = parse_html(
        f"<html><body><div class='text'><p>{P1}</p><p>{P2}</p></div>"
        f"<div class='text'>{links}</div></body></html>"
    )
    assert repair_body(page, f"{P1}\n{P2}") == f"{P1}\n{P2}"


def test_teasers_in_other_articles_are_dropped():
    page = parse_html(
        f"<html><body><article class='post'><h1>Story</h1><p>{P1}</p><p>{P2}</p>"
        f"<article class='post teaser'><h2>Other</h2><p>{TEASER}</p></article></article>"
        "</body></html>"
    )
    assert repair_body(page, f"{P1}\n{P2}\n{TEASER}") == f"{P1}\n{P2}"


def test_pages_with_several_headlines_keep_everything():
    page = parse_html(
        f"<html><body><article><h1>One</h1><p>{P1}</p><p>{P2}</p></article>"
        f"<article><h1>Two</h1><p>{TEASER}</p></article></body></html>"
    )
    assert repair_body(page, f"{P1}\n{P2}\n{TEASER}") == f"{P1}\n{P2}\n{TEASER}"


def test_precise_text_agrees_when_it_is_a_fair_part_of_the_balanced_one():
    balanced = f"{P1}\n{P2}\n{P3}\nRelated: five other stories"
    assert agrees_with(f"{P1}\n{P2}\n{P3}", balanced)
    assert not agrees_with(P1[:40], balanced)  # a fragment
    assert not agrees_with(f"{TEASER}\n{TEASER} again, and more of it.", balanced)  # another block
