from __future__ import annotations

from dataclasses import replace

import pytest

from tether.domain.classification import (
    Classification,
    Intent,
    ReplyClassifier,
    RuleBasedClassifier,
    classify_reply,
)

OPT_OUT = Intent.OPT_OUT
RESUBSCRIBE = Intent.RESUBSCRIBE
HELP = Intent.HELP
INTERESTED = Intent.INTERESTED
NOT_INTERESTED = Intent.NOT_INTERESTED
WRONG_NUMBER = Intent.WRONG_NUMBER
OTHER = Intent.OTHER

PHONE = "+16505300051"

# (reply, intent, email, phone, keyword)
REPLIES = [
    # the FCC and carrier keywords, alone, however they are typed
    ("STOP", OPT_OUT, None, None, "stop"),
    ("Stop.", OPT_OUT, None, None, "stop"),
    (" stop!! ", OPT_OUT, None, None, "stop"),
    ("STOP 🛑", OPT_OUT, None, None, "stop"),
    ("stop stop STOP", OPT_OUT, None, None, "stop"),
    ("Stop please", OPT_OUT, None, None, "stop"),
    ("Quit", OPT_OUT, None, None, "quit"),
    ("end", OPT_OUT, None, None, "end"),
    ("REVOKE", OPT_OUT, None, None, "revoke"),
    ("Opt-out", OPT_OUT, None, None, "opt out"),
    ("cancel", OPT_OUT, None, None, "cancel"),
    ("unsubscribe please", OPT_OUT, None, None, "unsubscribe"),
    ("STOPALL", OPT_OUT, None, None, "stopall"),
    ("OPTOUT", OPT_OUT, None, None, "optout"),
    ("No thanks. Stop.", OPT_OUT, None, None, "stop"),
    # Spanish
    ("No más", OPT_OUT, None, None, "no mas"),
    ("no mas!", OPT_OUT, None, None, "no mas"),
    ("Alto", OPT_OUT, None, None, "alto"),
    ("parar", OPT_OUT, None, None, "parar"),
    ("Basta ya", OPT_OUT, None, None, "basta"),
    ("No más mensajes por favor", OPT_OUT, None, None, "no mas mensajes"),
    # phrases that can only mean "stop contacting me", anywhere in the reply
    ("Stop texting me", OPT_OUT, None, None, "stop texting"),
    ("please STOP MESSAGING me", OPT_OUT, None, None, "stop messaging"),
    ("Remove me from your list", OPT_OUT, None, None, "remove me"),
    ("take me off your list", OPT_OUT, None, None, "take me off"),
    ("Do not text this number again", OPT_OUT, None, None, "do not text"),
    ("Don\u2019t text me", OPT_OUT, None, None, "dont text"),  # a phone's curly apostrophe
    ("leave me alone!!!", OPT_OUT, None, None, "leave me alone"),
    ("opt me out", OPT_OUT, None, None, "opt me out"),
    ("Lose my number", OPT_OUT, None, None, "lose my number"),
    ("how do I unsubscribe from this", OPT_OUT, None, None, "unsubscribe"),
    ("I'd like to be removed", OPT_OUT, None, None, "be removed"),
    # a keyword in capitals inside a lower-case reply is the keyword
    ("No thanks STOP", OPT_OUT, None, None, "stop"),
    # the same words as ordinary English are not opt-outs
    ("I can't stop thinking about this offer", OTHER, None, None, None),
    ("I CAN'T STOP THINKING ABOUT THIS OFFER", OTHER, None, None, None),
    ("Let's talk at the end of the week", INTERESTED, None, None, None),
    ("The end.", OTHER, None, None, None),
    ("cancel my appointment", OTHER, None, None, None),
    ("don't stop", OTHER, None, None, None),
    ("Stop by anytime", OTHER, None, None, None),
    ("stop the presses, I want in!", INTERESTED, None, None, None),
    ("🛑", OTHER, None, None, None),
    # re-subscribe: the whole reply is START or UNSTOP
    ("START", RESUBSCRIBE, None, None, "start"),
    ("Start.", RESUBSCRIBE, None, None, "start"),
    ("unstop!", RESUBSCRIBE, None, None, "unstop"),
    ("start please", OTHER, None, None, None),
    ("When do we start?", OTHER, None, None, None),
    # help
    ("HELP", HELP, None, None, "help"),
    ("help!", HELP, None, None, "help"),
    ("Info", HELP, None, None, "info"),
    ("I need help with my loan", OTHER, None, None, None),
    # email captured
    ("my email is John.Doe@Example.com", OTHER, "john.doe@example.com", None, None),
    ("jane+leads@mail.co.uk.", OTHER, "jane+leads@mail.co.uk", None, None),
    ("Yes send it to bob@acme.io", INTERESTED, "bob@acme.io", None, None),
    ("6505300051@vtext.com", OTHER, "6505300051@vtext.com", None, None),
    # phone captured
    ("call me at 650-530-0051", INTERESTED, None, PHONE, None),
    ("my cell (650) 530 0051", OTHER, None, PHONE, None),
    ("+1 650 530 0051", OTHER, None, PHONE, None),
    ("Call me at 530-0051", INTERESTED, None, None, None),  # no area code: not dialable
    ("I'm in 94105, free at 2:30", OTHER, None, None, None),
    ("Reach me on 555-0100 or 650.530.0051", OTHER, None, PHONE, None),
    # interested
    ("Yes", INTERESTED, None, None, None),
    ("yes please", INTERESTED, None, None, None),
    ("Y", INTERESTED, None, None, None),
    ("Interested", INTERESTED, None, None, None),
    ("Sounds good", INTERESTED, None, None, None),
    ("tell me more", INTERESTED, None, None, None),
    ("How much?", INTERESTED, None, None, None),
    ("What's the rate", INTERESTED, None, None, None),
    ("I'm in", INTERESTED, None, None, None),
    ("Sure, when can you talk?", INTERESTED, None, None, None),
    ("no problem, call me tomorrow", INTERESTED, None, None, None),
    ("Sí, me interesa", INTERESTED, None, None, None),
    # not interested
    ("Not interested", NOT_INTERESTED, None, None, None),
    ("no thanks", NOT_INTERESTED, None, None, None),
    ("No thank you.", NOT_INTERESTED, None, None, None),
    ("not now", NOT_INTERESTED, None, None, None),
    ("No", NOT_INTERESTED, None, None, None),
    ("Nope", NOT_INTERESTED, None, None, None),
    ("I'm not interested, thanks", NOT_INTERESTED, None, None, None),
    ("I'm good, thanks", NOT_INTERESTED, None, None, None),
    ("Not right now but maybe call me next year", NOT_INTERESTED, None, None, None),
    # wrong number
    ("Wrong number", WRONG_NUMBER, None, None, None),
    ("wrong #", WRONG_NUMBER, None, None, None),
    ("Who is this? you have the wrong person", WRONG_NUMBER, None, None, None),
    ("This isn't Maria", WRONG_NUMBER, None, None, None),
    ("this is not John's phone", WRONG_NUMBER, None, None, None),
    ("No, I'm not the owner", WRONG_NUMBER, None, None, None),
    ("nobody by that name here", WRONG_NUMBER, None, None, None),
    ("This is not a good time", OTHER, None, None, None),
    # neither
    ("Who is this?", OTHER, None, None, None),
    ("", OTHER, None, None, None),
    ("👍", OTHER, None, None, None),
]


@pytest.mark.parametrize(("body", "intent", "email", "phone", "keyword"), REPLIES)
def test_classifies_real_replies(
    body: str, intent: Intent, email: str | None, phone: str | None, keyword: str | None
) -> None:
    # the opt-in keyword has its own test below
    assert replace(classify_reply(body), opt_in=None) == Classification(
        intent=intent, email=email, phone=phone, keyword=keyword
    )


@pytest.mark.parametrize(
    ("body", "opt_in"),
    [
        ("YES", "yes"),
        ("yes!", "yes"),
        ("Y", "y"),
        ("Opt in", "opt in"),
        ("START", "start"),
        ("unstop", "unstop"),
        ("yes please", None),  # interest, not the keyword
        ("yes, call me", None),
        ("STOP", None),
        ("unsubscribe", None),
        ("Yes but stop texting me", None),
    ],
)
def test_a_reply_that_is_only_an_opt_in_keyword_is_a_keyword_opt_in(
    body: str, opt_in: str | None
) -> None:
    assert classify_reply(body).opt_in == opt_in


def test_the_table_is_a_real_sample() -> None:
    assert len(REPLIES) >= 60
    assert {intent for _, intent, *_ in REPLIES} == set(Intent)


def test_opt_out_wins_over_an_email_and_a_phone_in_the_same_reply() -> None:
    result = classify_reply("STOP. I told you already, j@x.com 650-530-0051")
    assert result.intent is OPT_OUT
    assert result.keyword == "stop"
    # the data is still extracted; deciding what to do with it is the service's job
    assert (result.email, result.phone) == ("j@x.com", PHONE)
    assert not result.high_intent


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("Yes but stop texting me", OPT_OUT),
        ("help, wrong number", HELP),
        ("Interested? no. wrong number", WRONG_NUMBER),
        ("Not interested, call me never", NOT_INTERESTED),
        ("yes, no thanks", NOT_INTERESTED),
        ("don't call me", OPT_OUT),
    ],
)
def test_precedence_decides_between_intents(body: str, intent: Intent) -> None:
    assert classify_reply(body).intent is intent


def test_a_suppression_is_lifted_only_by_a_bare_start() -> None:
    assert classify_reply("START").intent is RESUBSCRIBE
    assert classify_reply("Start. Stop.").intent is OPT_OUT
    # a STOP at the end of a reply is the keyword (issue 23): never a re-subscribe
    assert classify_reply("start stop").intent is OPT_OUT
    assert classify_reply("Start over with me").intent is not RESUBSCRIBE


@pytest.mark.parametrize(
    ("body", "high_intent"),
    [
        ("Yes, tell me more", True),
        ("650-530-0051", True),  # a number to call is intent even without a word of it
        ("my email is a@b.com", False),
        ("Not interested, this is 650-530-0051", False),
        ("Wrong number, I'm 650-530-0051", False),
        ("Stop texting 650-530-0051", False),
        ("Who is this?", False),
    ],
)
def test_high_intent(body: str, high_intent: bool) -> None:
    assert classify_reply(body).high_intent is high_intent


def test_phone_numbers_are_read_in_the_given_region() -> None:
    assert classify_reply("ring me on 020 7946 0018", region="GB").phone == "+442079460018"
    assert classify_reply("ring me on 020 7946 0018", region="US").phone is None
    assert classify_reply("call +44 20 7946 0018", region="US").phone == "+442079460018"


def test_rule_based_classifier_satisfies_the_protocol() -> None:
    classifier: ReplyClassifier = RuleBasedClassifier()
    assert isinstance(classifier, ReplyClassifier)
    assert classifier.classify("STOP") == classify_reply("STOP")


# That another classifier can take its place is tested on Tether's reply handling, which
# must ask it: tests/unit/test_reply_effects.py.
