"""The seed issue (BWR Vol 3, No 28) built by hand, as bot.core.reader should read it from
examples/bwr-feed.xml. Used by the composer's tests until (and besides) the reader."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.model import Issue, Item, Link, Takeaway

LINK = "https://aablanco.substack.com/p/russias-eroding-influence-in-the"

SEED_ISSUE = Issue(
    guid=LINK,
    link=LINK,
    title="Russia’s Eroding Influence in the South Caucasus - Azerbaijan",
    subtitle="Russian Led Multilateral Organizations | Shifting Alliances in the South Caucasus",
    published=datetime(2025, 7, 6, 14, 3, 5, tzinfo=UTC),
    cover_image=(
        "https://substackcdn.com/image/fetch/$s_!a3c1!,f_auto,q_auto:good,fl_progressive:steep/"
        "https%3A%2F%2Fsubstack-post-media.s3.amazonaws.com%2Fpublic%2Fimages%2F"
        "a3c1f0e2-bwr28-cover_1200x800.jpeg"
    ),
    volume="Vol 3, No 28 - BWR 06.07.2025",
    language="en",
    takeaways=(
        Takeaway(
            "FOREVER NEIGHBORS",
            "It’s a tough neighborhood, and moving isn’t an option. Peace with one’s nemesis may "
            "be the only option to escape from another.",
        ),
        Takeaway(
            "SOVERIGNTY AND AGENCY",
            "Azerbaijan has found a formula for escaping the Russian orbit of influence. Can other "
            "“Near Abroad” states employ a similar strategy?",
        ),
        Takeaway(
            "ERODING INFLUENCE",
            "Azerbaijan and Syria illustrate Russia’s waning influence, partly due to Putin’s war "
            "draining Russia’s resources.",
        ),
    ),
    follow_ups=(
        Item(
            "Slovakia Vetoes 18th EU Sanctions Package",
            (
                "The European Union cannot pass the recently proposed 18th package of Russian "
                "sanctions because of vetoes from Slovakia and Hungary.",
                "Slovakia emphasizes that it cannot support the new restrictions until it receives "
                "guarantees to mitigate the impact of halting gas imports from Russia. In addition "
                "to facing higher energy costs, Slovakia could be subjected to a legal suit and "
                "fines for non-compliance with its agreement with Gazprom, which expires in 2034, "
                "estimated at €20 billion. While Slovakia has outlined its demands in return, "
                "Hungary remains vague.",
                "Both Slovakia and Hungary heavily rely on Russian natural gas to power their "
                "manufacturing sectors.",
            ),
            (
                Link(
                    "The Right of Veto: Slovakia Intends to Exchange Veto for Gas Guarantees "
                    "(Izvestia, 03 Jul 2025)",
                    "https://iz.ru/1914000/2025-07-03/pravo-veto-slovakiia-nameren-obmeniat-veto-"
                    "na-gazovye-garantii",
                ),
            ),
        ),
    ),
    quick_bites=(
        Item(
            "Major General Mikhail Gudkov Meets His Maker - A Ukrainian Missile",
            (
                "Major General Mikhail Gudkov, a deputy commander of the Russian Navy, was "
                "delivered to his maker by a Ukrainian missile, as reported by the Russian "
                "Ministry of Defense media outlet, Zvezda.",
                "Gudkov is the twelfth Russian general killed in Putin’s War. Ten other senior "
                "military officers were killed in the missile strike on their command post, "
                "likely due to security breaches stemming from cell phone calls from the command "
                "post located in Korenevo, approximately 30KM from the Ukrainian border.",
                "Gudkov previously commanded the Russian Pacific Fleet’s 155th Guards Naval "
                "Infantry Brigade, based in the Primorsky Krai, before being promoted to deputy "
                "Navy chief in March.",
                "Putin has regularly praised the 155th brigade, including at his year-end press "
                "conference in December.",
            ),
            (
                Link(
                    "Russian Deputy Commander Killed in Air Strike in Kursk (The Guardian, 03 Jul "
                    "2025)",
                    "https://www.theguardian.com/world/2025/jul/03/russian-deputy-navy-commander-"
                    "killed-in-ukrainian-strike-in-kursk",
                ),
            ),
        ),
        Item(
            "Moscow is the First to Recognize the Taliban Government of Afghanistan",
            (
                "Russia’s decision to be the first country to officially recognize the Taliban "
                "government in Afghanistan is mostly symbolic.",
                "“Recognition of Islamic Emirate of Afghanistan is, one way or another, no more "
                "than a symbolic gesture, underscoring the friendly nature of relations between "
                "Moscow and Kabul at a time when the Kremlin is losing allies on the international "
                "stage,”",
                "said Ruslan Suleymanov, an expert on Central Asia.",
                "According to Russian Ambassador to Kabul Dmitry Zhirnov, the decision to "
                "recognize the Islamic Emirate of Afghanistan was made by President Vladimir "
                "Putin at the suggestion of Foreign Minister Sergei Lavrov.",
                "Zhirnov added that the move “demonstrates Russia’s sincere desire to build a "
                "full-fledged partnership with Afghanistan.”",
            ),
        ),
    ),
)
