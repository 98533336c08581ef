"""The articles of the sample news site: a fictional paper, The Harbour Gazette."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SampleArticle:
    slug: str
    section: str
    title: str
    author: str
    published: str  # ISO 8601, with its offset
    tags: tuple[str, ...]
    paragraphs: tuple[str, ...]
    template: str  # "notice" (embassy style) or "modern" (JSON-LD, <article>, promos)


ARTICLES: tuple[SampleArticle, ...] = (
    SampleArticle(
        slug="nato-to-boost-presence-in-eastern-europe",
        section="World",
        title="NATO to boost its presence in Eastern Europe",
        author="Marta Keller",
        published="2014-05-30T09:40:00+02:00",
        tags=("NATO", "Defence"),
        template="notice",
        paragraphs=(
            "NATO said Friday it would step up air patrols over the Baltic states and keep ships "
            "in the Black Sea for the coming months, as allies met to weigh their response to the "
            "crisis on the alliance's eastern border.",
            "The alliance's secretary general told reporters in Brussels that the measures were "
            "defensive and proportionate, and that the door to dialogue with Moscow remained open. "
            "Ministers will review the deployment when they meet again in June.",
            "Poland and the three Baltic states have asked for a permanent presence of allied "
            "troops on their soil. Diplomats said a decision on that request was not expected "
            "before the summit in Wales in September.",
            "Several capitals also pledged to raise defence spending towards the agreed target "
            "of two per cent of national output, a goal that only a handful of members currently "
            "meet.",
        ),
    ),
    SampleArticle(
        slug="harbour-dredging-to-start-in-june",
        section="Local",
        title="Harbour dredging to start in June after two years of delays",
        author="Tomas Lindqvist",
        published="2014-05-28T16:05:00+02:00",
        tags=("Harbour", "Infrastructure"),
        template="notice",
        paragraphs=(
            "Work to deepen the main channel of the harbour will begin on the second of June, the "
            "port authority confirmed on Wednesday, ending a dispute over who should pay for it "
            "that has dragged on since the spring of 2012.",
            "Two dredgers will work in shifts for eleven weeks. Ferries will keep their timetable, "
            "but fishing boats have been asked to use the northern quay while the channel is "
            "closed to vessels with a draught of more than four metres.",
            "The council's harbour committee approved the final budget of 14.2 million on Monday. "
            "Its chair said the deeper channel would let larger cargo ships call at the port and "
            "bring back some of the trade lost to neighbouring towns.",
        ),
    ),
    SampleArticle(
        slug="library-reopens-with-longer-hours",
        section="Local",
        title="Town library reopens with longer hours and a new reading room",
        author="Ana Ribeiro",
        published="2014-05-21T11:30:00+02:00",
        tags=("Culture", "Library"),
        template="notice",
        paragraphs=(
            "The public library on Quay Street reopened on Tuesday after a renovation that took "
            "nine months, with a glass reading room overlooking the water and opening hours "
            "extended to nine in the evening on weekdays.",
            "Librarians said more than three hundred people came through the doors on the first "
            "morning. Many of them headed straight for the local history collection, which has "
            "been moved from the basement to the first floor.",
            "The renovation was paid for largely by a bequest from a retired ship's captain, whose "
            "collection of logbooks and charts is now on permanent display near the entrance.",
        ),
    ),
    SampleArticle(
        slug="ferry-operator-adds-night-crossings",
        section="Business",
        title="Ferry operator adds night crossings for the summer season",
        author="Jonas Berg",
        published="2014-05-19T07:15:00+02:00",
        tags=("Harbour", "Transport"),
        template="modern",
        paragraphs=(
            "The island ferry company will run two extra crossings every night from mid-June to "
            "the end of August, its managing director said, after bookings for the summer rose by "
            "a fifth compared with last year.",
            "The late departures, at half past eleven and one in the morning, are aimed at "
            "festival visitors and at hotel staff who finish their shifts after the last regular "
            "boat has left. Tickets will cost the same as on daytime sailings.",
            "Residents of the island welcomed the change but asked the company to keep the noise "
            "of engines and announcements down at the terminal during the night.",
        ),
    ),
    SampleArticle(
        slug="fish-market-prices-fall",
        section="Business",
        title="Prices at the fish market fall as cod catches recover",
        author="Jonas Berg",
        published="2014-05-14T13:50:00+02:00",
        tags=("Fishing", "Economy"),
        template="modern",
        paragraphs=(
            "Wholesale prices for cod at the morning auction fell for the third week in a row, "
            "traders said, as the boats returned with their best catches since the quota was cut "
            "three years ago.",
            "A kilo of fresh fillet sold for a third less than in March. Restaurant owners said "
            "they would pass some of the saving on to customers, while processors warned that the "
            "recovery of the stock was still fragile.",
            "Marine scientists at the university will publish their annual survey of the fishing "
            "grounds in July. Their advice will shape the quota that ministers set in the autumn.",
        ),
    ),
    SampleArticle(
        slug="council-approves-new-cycle-lanes",
        section="Politics",
        title="Council approves new cycle lanes along the seafront",
        author="Ana Ribeiro",
        published="2014-05-09T18:20:00+02:00",
        tags=("Transport", "Council"),
        template="modern",
        paragraphs=(
            "Councillors voted by twenty-one to fourteen on Thursday evening to build separated "
            "cycle lanes along the whole length of the seafront promenade, after a debate that "
            "lasted almost four hours.",
            "The plan removes ninety parking spaces, which shop owners on Strand Road had fought "
            "to keep. The council promised a new car park behind the railway station before the "
            "lanes open next spring.",
            "Cycling groups called the decision a turning point for the town. The opposition said "
            "it would ask the regional government to review the way the consultation was run.",
        ),
    ),
    SampleArticle(
        slug="sailing-regatta-draws-record-entries",
        section="Sport",
        title="Sailing regatta draws a record number of entries",
        author="Marta Keller",
        published="2014-05-05T10:00:00+02:00",
        tags=("Sailing", "Events"),
        template="modern",
        paragraphs=(
            "One hundred and forty boats have entered this year's spring regatta, the largest "
            "fleet in the event's sixty-year history, the yacht club said as registration closed "
            "on Sunday night.",
            "Crews from nine countries will race over three days on courses laid outside the "
            "breakwater. Organisers have added a class for young sailors under sixteen, which "
            "alone attracted thirty entries.",
            "The harbour master asked owners of motor boats to keep clear of the race area between "
            "ten in the morning and four in the afternoon while the regatta is under way.",
        ),
    ),
    SampleArticle(
        slug="old-lighthouse-to-become-museum",
        section="Culture",
        title="Old lighthouse to become a maritime museum",
        author="Tomas Lindqvist",
        published="2014-04-29T15:45:00+02:00",
        tags=("Culture", "Heritage"),
        template="notice",
        paragraphs=(
            "The lighthouse on the southern point, dark since an automatic beacon replaced it in "
            "1987, will open as a small maritime museum next year, the heritage foundation that "
            "bought it announced on Tuesday.",
            "Visitors will be able to climb the hundred and twelve steps to the lantern room, "
            "where the original lens has been restored by craftsmen from the national museum. "
            "The keeper's cottage will house a café and a room for school classes.",
            "The foundation still needs to raise about a quarter of the cost. It will open the "
            "site to the public on two weekends in August to show donors what their money buys.",
        ),
    ),
    SampleArticle(
        slug="school-wins-national-science-prize",
        section="Local",
        title="Harbour school pupils win national science prize",
        author="Ana Ribeiro",
        published="2014-04-24T12:10:00+02:00",
        tags=("Education", "Science"),
        template="modern",
        paragraphs=(
            "Four pupils from the harbour secondary school have won the national young "
            "scientists' prize for a project that measured microplastics in the sand of six "
            "local beaches over a whole year.",
            "The jury praised the care with which the team had taken and counted their samples, "
            "and the way they had compared beaches facing the open sea with those inside the bay.",
            "The prize of five thousand will pay for a new microscope for the school's "
            "laboratory. The pupils will present their work at a European fair in Warsaw in the "
            "autumn.",
        ),
    ),
    SampleArticle(
        slug="storm-damages-northern-pier",
        section="Local",
        title="Storm damages the northern pier",
        author="Tomas Lindqvist",
        published="2014-04-17T08:30:00+02:00",
        tags=("Harbour", "Weather"),
        template="notice",
        paragraphs=(
            "Waves driven by a north-westerly gale tore away part of the wooden deck of the "
            "northern pier overnight, and the walkway will stay closed until engineers have "
            "inspected the piles that hold it up.",
            "Nobody was hurt. Police closed the pier shortly after midnight when the wind reached "
            "storm force, and the coast guard said two small boats had broken their moorings in "
            "the inner harbour.",
            "The council said repairs would be paid from its emergency fund and that it hoped to "
            "reopen the pier before the start of the summer holidays.",
        ),
    ),
)
