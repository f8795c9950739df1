"""What an inbound SMS reply from a lead means: opt-out, re-subscribe, help, interest.

A reply gets one `Intent`, the one that decides what happens next, chosen by this
precedence::

    OPT_OUT > RESUBSCRIBE > HELP > WRONG_NUMBER > NOT_INTERESTED > INTERESTED > OTHER

and, whatever the intent, the email address and phone number it contains. The
classifier is a protocol so a model can replace the rules later; `RuleBasedClassifier`
is the default and `classify_reply` calls a shared instance of it.

The word lists below are data, written as people type them; they are normalised once
(lower case, accents and apostrophes removed, so "No más" is "no mas" and "don't" is
"dont") and every reply is normalised the same way before it is compared.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from tether.domain.errors import InvalidPhoneNumber
from tether.domain.phone import DEFAULT_REGION, normalize_phone

# An opt-out when a sentence of the reply is nothing but one of these (and fillers).
# Sources: the FCC's revocation words, 47 CFR 64.1200(a)(10) and the 2024 Revocation
# Order (FCC 24-24: STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE); the CTIA
# Messaging Principles and Best Practices (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
# QUIT) and the carriers' and providers' opt-out keyword lists (OPTOUT, STOPALL,
# REMOVE, UNSUB); the Spanish and French words the providers' lists and our leads use
# (BAJA, ALTO, PARAR, DETENER, CANCELAR, NO MAS; ARRET, ARRETER, DESABONNER).
OPT_OUT_KEYWORDS = (
    "stop",
    "quit",
    "end",
    "revoke",
    "opt out",
    "cancel",
    "unsubscribe",
    "unsub",
    "remove",
    "stopall",
    "stop all",
    "optout",
    "no more",
    # Spanish
    "no más",
    "nomás",
    "alto",
    "parar",
    "para",
    "pare",
    "basta",
    "cancelar",
    "baja",
    "darme de baja",
    "dar de baja",
    "de baja",
    "detener",
    "detente",
    "salir",
    "fin",
    # French
    "arrêt",
    "arrête",
    "arrêter",
    "arrêtez",
    "désabonner",
    "désabonnement",
    "désinscrire",
    "annuler",
)

# At the start or the end of a longer sentence ("no thanks stop", "stop not
# interested") these are the keyword; see `RuleBasedClassifier` for the guards. END,
# PARA and FIN are left out: "the end", "es para mi" are ordinary words.
EDGE_OPT_OUT_KEYWORDS = (
    "stop",
    "stopall",
    "unsubscribe",
    "unsub",
    "optout",
    "cancel",
    "revoke",
    "quit",
    "remove",
    "baja",
    "alto",
    "parar",
    "basta",
    "cancelar",
    "arret",
    "arrete",
    "arreter",
    "arretez",
    "desabonner",
)

# A one-letter typo of these (a letter added, dropped, changed, or two swapped: STOPP,
# STP, SOTP, UNSUBSCRIBR) is the keyword, at the edges of a sentence. Only keywords of
# four letters or more: a typo of END or ALTO is too often another word.
FUZZY_OPT_OUT_KEYWORDS = (
    "stop",
    "stopall",
    "unsubscribe",
    "unsub",
    "optout",
    "cancel",
    "revoke",
    "quit",
    "remove",
    "parar",
    "arret",
    "desabonner",
)

# Real words one letter from a keyword: never read as its typo ("top", "step",
# "shop", "quiet", "cancer"...). A wrong opt-out loses a lead; these are common enough
# that reading them as STOP would lose many.
NEAR_MISS_WORDS = (
    "top", "step", "shop", "stomp", "atop", "slop", "stow", "sop", "stob", "stoa", "stod",
    "spot", "stot", "scop", "swop", "chop", "stoep",
    "quiet", "quite", "quilt", "suit", "quid", "quiz", "quip", "quin", "quits", "equip",
    "cancer", "candel",
    "evoke", "remote", "removal", "revolve", "reboke",
    "unsug",
    "para", "paras", "parer", "parat",
)  # fmt: skip

# After a keyword at the start of a sentence, only these words may follow for it to
# be the keyword ("STOP no thanks", "stop im not interested", "stop this is spam");
# "stop by", "cancel my appointment" continue a sentence instead.
AFTER_KEYWORD_WORDS = (
    "no", "not", "nope", "nah", "interested", "thanks", "thank", "you", "me", "this",
    "these", "that", "is", "its", "im", "i", "am", "dont", "want", "wanna", "need", "any",
    "anymore", "more", "texts", "text", "texting", "messages", "message", "messaging",
    "msgs", "sms", "spam", "again", "already", "ever", "stop", "wrong", "number", "person",
    "said", "gracias", "merci", "mas", "ya", "svp", "ok", "okay", "sorry", "bye",
    "subscription", "suscripcion", "list", "lista", "all", "everything", "them", "forever",
    "permanently", "asap", "immediately", "right", "now", "it", "please", "pls", "plz",
)  # fmt: skip

# Before a keyword at the end of a sentence, these make it an ordinary word ("don't
# stop", "I can't stop", "the bus stop", "I want to cancel", "I quit").
GUARD_BEFORE_KEYWORD = (
    "dont", "do", "does", "did", "didnt", "doesnt", "not", "never", "cant", "cannot",
    "couldnt", "wouldnt", "shouldnt", "wont", "isnt", "arent", "wasnt", "to", "will",
    "ill", "would", "could", "should", "can", "may", "might", "must", "gonna", "wanna",
    "lets", "i", "we", "you", "they", "he", "she", "youll", "well", "theyll", "the", "a",
    "an", "my", "your", "his", "her", "our", "their", "this", "that", "bus", "pit",
    "truck", "rest", "full", "one", "next", "last", "first", "non", "at",
)  # fmt: skip
# An opt-out wherever these appear: they only ever mean "stop contacting me".
OPT_OUT_PHRASES = (
    "unsubscribe",
    "stopall",
    "optout",
    "opt out",
    "opt me out",
    "stop texting",
    "stop messaging",
    "stop sending",
    "stop contacting",
    "stop calling",
    "quit texting",
    "quit messaging",
    "remove me",
    "remove my number",
    "be removed",
    "take me off",
    "delete my number",
    "lose my number",
    "do not text",
    "don't text",
    "do not message",
    "don't message",
    "do not contact",
    "don't contact",
    "do not call",
    "don't call",
    "do not send",
    "don't send",
    "leave me alone",
    "no more texts",
    "no more messages",
    "revoke consent",
    "revoke my consent",
    "no más mensajes",
    "no me escribas",
    "no me escriban",
    "no me envíes",
    "no me envies mas",
    "no me mandes",
    "no me manden",
    "no quiero mensajes",
    "no más mensajes",
    "sácame de",
    "sacame de la lista",
    "ne plus recevoir",
    "ne m'envoyez plus",
    "ne me contactez plus",
    "retirez-moi",
    "désinscrivez-moi",
    "désinscription",
    "désabonnement",
    "stop these",
    "stop the texts",
    "stop the messages",
    "stop text",
    "stop txt",
    "stop sms",
    "stop msg",
    "stop all texts",
    "stop all messages",
    "lose this number",
    "ever text",
    "ever contact",
    "never text me",
    "never contact me",
    "cancel my subscription",
    "cancel subscription",
    "dejen de",
    "deja de escribir",
    "deje de escribir",
    "deja de mandar",
    "bórrame",
    "elimíname",
    "quítame de",
    "arrêtez de",
    "arrête de",
    "arrêter de",
    "cessez de",
)

# Written in capitals inside an otherwise lower-case reply ("No thanks STOP"), these are
# plainly the keyword rather than an ordinary word of a sentence.
SHOUTED_OPT_OUT_KEYWORDS = (
    "stop",
    "quit",
    "end",
    "revoke",
    "cancel",
    "unsubscribe",
    "stopall",
    "optout",
)

# Lift a suppression only when the whole reply is one of these words.
RESUBSCRIBE_KEYWORDS = ("start", "unstop")

# A reply that is only one of these (the answer to a double opt-in prompt: "Reply YES to
# get texts") is a keyword opt-in: it records a consent. The intent is unchanged (YES
# is still interest); START/UNSTOP record one too, as the re-subscribe they are.
OPT_IN_KEYWORDS = ("yes", "y", "confirm", "optin", "opt in", "subscribe")

HELP_KEYWORDS = ("help", "info", "ayuda")

WRONG_NUMBER_PHRASES = (
    "wrong number",
    "wrong person",
    "wrong guy",
    "wrong girl",
    "wrong lady",
    "wrong phone",
    "wrong contact",
    "you have the wrong",
    "you've got the wrong",
    "you got the wrong",
    "not the owner",
    "not the homeowner",
    "no one by that name",
    "nobody by that name",
    "no one here by that name",
    "nobody here by that name",
    "not my name",
    "isn't my name",
    "don't know who that is",
    "don't know anyone named",
    "never heard of",
    "número equivocado",
)

# Not interested when a sentence is nothing but one of these (and fillers): "no" inside
# a longer sentence is too often "no problem" or "no, the other one".
NOT_INTERESTED_KEYWORDS = ("no", "nope", "nah", "pass", "I'm good", "I'm all set", "all set")

NOT_INTERESTED_PHRASES = (
    "not interested",
    "no interest",
    "no thanks",
    "no thank you",
    "no thx",
    "not now",
    "not right now",
    "not at this time",
    "not looking",
    "not for me",
    "not for sale",
    "not selling",
    "don't need",
    "do not need",
    "already have",
    "already found",
    "no gracias",
    "no me interesa",
)

INTERESTED_KEYWORDS = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "y",
    "sure",
    "ok",
    "okay",
    "sí",
    "absolutely",
    "definitely",
    "of course",
    "I'm in",
    "count me in",
    "I want in",
)

# A reply that opens with one of these says yes to whatever follows ("Yes, when?").
INTERESTED_OPENING_WORDS = ("yes", "yeah", "yep", "yup", "sure", "sí", "absolutely", "definitely")

INTERESTED_PHRASES = (
    "interested",
    "sounds good",
    "sounds great",
    "call me",
    "give me a call",
    "can you call",
    "tell me more",
    "more info",
    "more information",
    "more details",
    "how much",
    "what's the rate",
    "what is the rate",
    "what are the rates",
    "what's the price",
    "what is the price",
    "what's the cost",
    "I want in",
    "count me in",
    "sign me up",
    "let's do it",
    "let's talk",
    "let's chat",
    "can we talk",
    "when can we",
    "I'd like",
    "I would like",
    "I'd love",
    "I would love",
    "send me",
    "me interesa",
)

# Words that do not change what a bare keyword means: "stop please", "STOP now!!",
# "no thank you", "basta ya", "alto por favor".
FILLER_WORDS = (
    "please",
    "pls",
    "plz",
    "now",
    "right",
    "immediately",
    "asap",
    "already",
    "it",
    "thanks",
    "thank",
    "you",
    "thx",
    "ty",
    "ya",
    "por",
    "favor",
)


# Hostile or abusive replies suppress: whoever answers a text with abuse, a threat to
# report or sue, or "scam" has withdrawn any consent, and the FCC reads revocation as
# "any reasonable means" (47 CFR 64.1200(a)(10)). Masked spellings count (f*ck, fck).
HOSTILE_PATTERNS = (
    r"\bf+[\W_]*[uv*@#]*[\W_]*[c*]*[\W_]*k+(?:ing|in|er|ers|ed|off|u|you)?\b",
    r"\bf+u+[\W_]*[*]+\b",
    r"\b(?:stfu|gtfo|wtf|kys)\b",
    r"\bmotherf\w*",
    r"\b(?:bull)?shit\w*",
    r"\bbitch\w*",
    r"\b(?:asshole|a-hole|bastard|cunt|dickhead|douche\w*|jackass|prick)s?\b",
    r"\b(?:piss|bugger|sod) off\b",
    r"\bscrew (?:you|off)\b",
    r"\bgo (?:to hell|die|away)\b",
    r"\bdrop dead\b",
    r"\bget lost\b",
    r"\bshut up\b",
    r"\bharass\w*",
    r"\bscam\w*",
    r"\bspam(?!\s+folder)\w*",
    r"\breport(?:ing)? (?:you|this|u)\b",
    r"\b(?:sue|suing) (?:you|u)\b",
    r"\blawsuit\b",
    r"\bcease and desist\b",
    r"\battorney general\b",
    r"\b(?:tcpa|ftc|fcc)\b",
    # Spanish and French
    r"\b(?:mierda|pendej\w*|chinga\w*|cabron\w*|puta\w*|estafa\w*)\b",
    r"\b(?:merde|connard\w*|putain|foutre|encul\w*|arnaque\w*)\b",
)


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    RESUBSCRIBE = "resubscribe"
    HELP = "help"
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    WRONG_NUMBER = "wrong_number"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Classification:
    """What a reply means (`intent`) and what it gave us.

    `email` is lower-cased, `phone` is E.164, `keyword` is the opt-out, re-subscribe or
    help keyword or phrase that matched (normalised: "no mas", "stop texting"), kept for
    the audit trail.
    """

    intent: Intent
    email: str | None = None
    phone: str | None = None
    keyword: str | None = None
    opt_in: str | None = None  # the keyword of a keyword opt-in (YES, START ...), if it is one

    @property
    def high_intent(self) -> bool:
        """True when the lead asked for more or gave a number to call, and did not say no."""
        if self.intent in (Intent.OPT_OUT, Intent.NOT_INTERESTED, Intent.WRONG_NUMBER):
            return False
        return self.intent is Intent.INTERESTED or self.phone is not None


@runtime_checkable
class ReplyClassifier(Protocol):
    def classify(self, body: str, region: str = DEFAULT_REGION) -> Classification:
        """Classify the text of one inbound reply; `region` reads national phone numbers."""
        ...


Words = tuple[str, ...]

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
# Sentence breaks; a keyword counts when it is a sentence of its own ("No thanks. Stop.")
_SENTENCE_BREAK = re.compile(r"[.!?,;:\n\r()\[\]\"“”¡¿]+")
_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc`]")
_WORD = re.compile(r"[a-z0-9]+")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# "This isn't Maria", "this is not John's phone": a capitalised word after the denial is
# a name; "This is not a good time" is not a wrong number.
_NOT_THAT_PERSON = re.compile(
    r"(?i:\bthis\s+(?:isn['\u2019]?t|is\s+not)|\bi\s*['\u2019]?\s*a?m\s+not)\s+"
    r"(?!(?i:a|an|the|my|what|it|that|for|me|good|right|true|ok|okay|interested|sure)\b)"
    r"[A-Z]"
)


def _unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _words(text: str) -> Words:
    unaccented = _unaccented(text)
    # "wrong #" is "wrong number"
    spelled = _APOSTROPHES.sub("", unaccented.lower()).replace("#", " number ")
    return tuple(_WORD.findall(spelled))


def _word_table(entries: Iterable[str]) -> tuple[Words, ...]:
    return tuple(_words(entry) for entry in entries)


_OPT_OUT_KEYWORDS = _word_table(OPT_OUT_KEYWORDS)
_EDGE_OPT_OUT_KEYWORDS = frozenset(EDGE_OPT_OUT_KEYWORDS)
_SPELLED_KEYWORDS = {"".join(words): " ".join(words) for words in _OPT_OUT_KEYWORDS}
# "optout", "nomas", "dardebaja": a multi-word keyword written as one word
_JOINED_KEYWORDS = {
    "".join(words): " ".join(words) for words in _OPT_OUT_KEYWORDS if len(words) > 1
}
_FUZZY_OPT_OUT_KEYWORDS = tuple(FUZZY_OPT_OUT_KEYWORDS)
_NEAR_MISS_WORDS = frozenset(NEAR_MISS_WORDS)
_AFTER_KEYWORD_WORDS = frozenset(AFTER_KEYWORD_WORDS)
_GUARD_BEFORE_KEYWORD = frozenset(GUARD_BEFORE_KEYWORD)
# After a shouted keyword, these continue an ordinary sentence ("STOP by", "END of").
_CONTINUATION_AFTER_KEYWORD = frozenset(
    ("by", "in", "over", "at", "of", "the", "my", "your", "our", "his", "her", "a", "an",
     "thinking", "doing", "and", "to", "for", "on", "off", "up")
)  # fmt: skip
_HOSTILE = re.compile("|".join(f"(?:{pattern})" for pattern in HOSTILE_PATTERNS))
# Letters one by one, spaced or dotted: "s t o p", "S.T.O.P", "s-t-o-p", "s*t*o*p".
_SPELLED_OUT = re.compile(r"(?<![A-Za-z])(?:[A-Za-z][\s.\-_*·/|]+){2,}[A-Za-z](?![A-Za-z])")
_OPT_OUT_PHRASES = _word_table(OPT_OUT_PHRASES)
_SHOUTED_OPT_OUT_KEYWORDS = frozenset(SHOUTED_OPT_OUT_KEYWORDS)
_RESUBSCRIBE_KEYWORDS = _word_table(RESUBSCRIBE_KEYWORDS)
_HELP_KEYWORDS = _word_table(HELP_KEYWORDS)
_OPT_IN_KEYWORDS = _word_table(OPT_IN_KEYWORDS)
_WRONG_NUMBER_PHRASES = _word_table(WRONG_NUMBER_PHRASES)
_NOT_INTERESTED_KEYWORDS = _word_table(NOT_INTERESTED_KEYWORDS)
_NOT_INTERESTED_PHRASES = _word_table(NOT_INTERESTED_PHRASES)
_INTERESTED_KEYWORDS = _word_table(INTERESTED_KEYWORDS)
_INTERESTED_OPENING_WORDS = frozenset(INTERESTED_OPENING_WORDS)
_INTERESTED_PHRASES = _word_table(INTERESTED_PHRASES)
_FILLER_WORDS = frozenset(FILLER_WORDS)


def _bare(sentence: Words) -> Words:
    """The sentence without fillers and without repeats ("stop stop STOP" is "stop")."""
    core: list[str] = []
    for word in sentence:
        if word not in _FILLER_WORDS and (not core or core[-1] != word):
            core.append(word)
    return tuple(core)


def _sentence_is(sentences: Sequence[Words], keywords: Sequence[Words]) -> str | None:
    for sentence in sentences:
        core = _bare(sentence)
        if core and core in keywords:
            return " ".join(core)
    return None


def _contains(sentences: Sequence[Words], phrases: Sequence[Words]) -> str | None:
    for phrase in phrases:
        size = len(phrase)
        for sentence in sentences:
            if any(sentence[i : i + size] == phrase for i in range(len(sentence) - size + 1)):
                return " ".join(phrase)
    return None


def _shouted_keyword(body: str) -> str | None:
    # A reply all in capitals ("I CAN'T STOP THINKING ABOUT IT") proves nothing.
    if not any(char.islower() for char in body):
        return None
    words: list[str] = _LATIN_WORD.findall(_APOSTROPHES.sub("", body))
    for index, word in enumerate(words):
        before = words[index - 1].lower() if index else ""
        after = words[index + 1].lower() if index + 1 < len(words) else ""
        if (
            word.isupper()
            and word.lower() in _SHOUTED_OPT_OUT_KEYWORDS
            # "Don't STOP", "STOP by", "CANCEL my appointment" are still not one
            and before not in _GUARD_BEFORE_KEYWORD
            and after not in _CONTINUATION_AFTER_KEYWORD
        ):
            return word.lower()
    return None


def _one_edit_apart(word: str, keyword: str) -> bool:
    """One letter added, dropped or changed, or two neighbours swapped."""
    if word == keyword or abs(len(word) - len(keyword)) > 1:
        return word == keyword
    if len(word) == len(keyword):
        diffs = [i for i, (a, b) in enumerate(zip(word, keyword, strict=True)) if a != b]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and word[diffs[0]] == keyword[diffs[1]]
            and word[diffs[1]] == keyword[diffs[0]]
        )
    shorter, longer = sorted((word, keyword), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _squeezed(word: str) -> str:
    """Repeated letters once: "stooop", "STOPPPP" are "stop"."""
    return re.sub(r"(.)\1+", r"\1", word)


def _keyword_of(word: str) -> str | None:
    """The opt-out keyword `word` is, typed right or one letter off; None if none."""
    if word in _EDGE_OPT_OUT_KEYWORDS:
        return word
    if word in _JOINED_KEYWORDS:
        return _JOINED_KEYWORDS[word]
    if word in _NEAR_MISS_WORDS or len(word) < 3:
        return None
    squeezed = _squeezed(word)
    if squeezed in _EDGE_OPT_OUT_KEYWORDS:
        return squeezed
    for keyword in _FUZZY_OPT_OUT_KEYWORDS:
        if _one_edit_apart(word, keyword) or _one_edit_apart(squeezed, keyword):
            return keyword
    return None


def _joined_letters(body: str) -> str:
    """ "s t o p" and "S.T.O.P" written as the word they spell, when that word is a
    keyword (or one letter off); other spelled-out letters ("U.S.") are left alone."""

    def join(match: re.Match[str]) -> str:
        letters = "".join(char for char in match.group() if char.isalpha())
        lowered = letters.lower()
        if lowered in _SPELLED_KEYWORDS:  # "d a r d e b a j a" is "dar de baja"
            return _SPELLED_KEYWORDS[lowered]
        return letters if _keyword_of(lowered) else match.group()

    return _SPELLED_OUT.sub(join, body)


def _edge_keyword(sentences: Sequence[Words]) -> str | None:
    """A keyword that is a sentence by itself (typos allowed), or stands at its start
    with only "no thanks"-like words after it, or at its end after a word that does
    not make it ordinary English."""
    for sentence in sentences:
        core = _bare(sentence)
        if not core:
            continue
        first, last = _keyword_of(core[0]), _keyword_of(core[-1])
        if len(core) == 1 and first:
            return first
        if first and all(word in _AFTER_KEYWORD_WORDS for word in core[1:]):
            return first
        if last and len(core) > 1 and core[-2] not in _GUARD_BEFORE_KEYWORD:
            return last
    return None


def _hostile(text: str) -> str | None:
    match = _HOSTILE.search(text.lower())
    return f"hostile: {match.group().strip()}" if match else None


def _find_email(body: str) -> str | None:
    match = _EMAIL.search(body)
    return match.group().lower() if match else None


def _find_phone(text: str, region: str) -> str | None:
    import phonenumbers  # on the first reply read, not with the worker's rules (outbound)

    for match in phonenumbers.PhoneNumberMatcher(text, region.upper()):
        try:
            return normalize_phone(match.raw_string, region)
        except InvalidPhoneNumber:
            # a number we cannot dial is not worth failing a reply over
            continue
    return None


class RuleBasedClassifier:
    """The default `ReplyClassifier`: word lists and a few rules, no model.

    Opt-outs are where a mistake costs most, so the rules are deliberately shaped:

    - A single-word keyword (STOP, END, CANCEL, ALTO...) is an opt-out when a sentence of
      the reply is nothing but that keyword, in any case, with any punctuation, emoji,
      repeats or fillers ("Stop.", " stop!! ", "STOP 🛑", "unsubscribe please", "No
      thanks. Stop"). Inside a sentence the same word is ordinary English: "I can't stop
      thinking about this offer", "Stop by anytime", "the end of the week" and "cancel
      my appointment" (a scheduling request for a person to handle, not a revocation of
      consent to be texted) are not opt-outs. The FCC treats a keyword inside a longer
      message as ambiguous, not as an automatic revocation.
    - A keyword at the start or the end of a longer sentence is the keyword (issue
      23: "no thanks stop" must suppress the phone, not only close one lead):
      at the start when only "no thanks"-like words follow it (`AFTER_KEYWORD_WORDS`:
      "stop no thanks", "STOP im not interested"; "stop by", "cancel my appointment"
      continue the sentence); at the end unless the word before it makes it ordinary
      English (`GUARD_BEFORE_KEYWORD`: "don't stop", "I can't stop", "the bus stop",
      "I want to cancel", "I quit").
    - Spacing and punctuation inside a keyword do not hide it ("s t o p", "S.T.O.P",
      "s-t-o-p"), nor do repeated letters ("stooop") or accents ("ARRÊT"); nor does a
      one-letter typo of a keyword of four letters or more (a letter added, dropped,
      changed, or two neighbours swapped: "STOPP", "sotp", "stp", "unsubscrbe"), unless
      the word is a common word of its own (`NEAR_MISS_WORDS`: "top", "step", "shop",
      "quiet", "cancer").
    - Hostile or abusive replies (`HOSTILE_PATTERNS`: profanity, masked or not; "scam",
      "spam", "harassment"; threats to report or sue) are opt-outs: whoever answers
      that way has withdrawn consent by any reasonable means (47 CFR 64.1200(a)(10)).
    - A keyword in capitals inside a lower-case reply ("No thanks STOP") is the
      keyword, not a word of the sentence, unless a guard word stands before it
      ("Don't STOP").
    - Phrases that can only mean "stop contacting me" ("stop texting", "remove me",
      "don't text", "lose my number", "unsubscribe") are opt-outs wherever they appear,
      even negated ("don't stop texting me" is an opt-out): a wrong opt-out loses a
      lead, a missed one breaks the law.
    - A suppression is lifted only by a reply that is exactly START or UNSTOP (case and
      punctuation aside); "start please" or "let's start" lift nothing.
    """

    def classify(self, body: str, region: str = DEFAULT_REGION) -> Classification:
        """Classify the text of one inbound reply; `region` reads national phone numbers."""
        email = _find_email(body)
        # an address like 6505300051@vtext.com is an email, not a phone number
        without_email = _EMAIL.sub(" ", body)
        phone = _find_phone(without_email, region)
        text = _joined_letters(_unaccented(without_email))
        sentences = [words for part in _SENTENCE_BREAK.split(text) if (words := _words(part))]
        intent, keyword = self._intent(text, sentences)
        return Classification(
            intent=intent,
            email=email,
            phone=phone,
            keyword=keyword,
            opt_in=_opt_in(intent, keyword, sentences),
        )

    def _intent(self, text: str, sentences: Sequence[Words]) -> tuple[Intent, str | None]:
        opt_out = (
            _sentence_is(sentences, _OPT_OUT_KEYWORDS)
            or _contains(sentences, _OPT_OUT_PHRASES)
            or _edge_keyword(sentences)
            or _shouted_keyword(text)
            or _hostile(text)
        )
        if opt_out:
            return Intent.OPT_OUT, opt_out
        every_word = tuple(word for sentence in sentences for word in sentence)
        if every_word in _RESUBSCRIBE_KEYWORDS:
            return Intent.RESUBSCRIBE, every_word[0]
        help_keyword = _sentence_is(sentences, _HELP_KEYWORDS)
        if help_keyword:
            return Intent.HELP, help_keyword
        if _contains(sentences, _WRONG_NUMBER_PHRASES) or _NOT_THAT_PERSON.search(text):
            return Intent.WRONG_NUMBER, None
        if _sentence_is(sentences, _NOT_INTERESTED_KEYWORDS) or _contains(
            sentences, _NOT_INTERESTED_PHRASES
        ):
            return Intent.NOT_INTERESTED, None
        if (
            _sentence_is(sentences, _INTERESTED_KEYWORDS)
            or _contains(sentences, _INTERESTED_PHRASES)
            or (every_word and every_word[0] in _INTERESTED_OPENING_WORDS)
        ):
            return Intent.INTERESTED, None
        return Intent.OTHER, None


def _opt_in(intent: Intent, keyword: str | None, sentences: Sequence[Words]) -> str | None:
    """The opt-in keyword when the whole reply is one (an opt-out never is)."""
    if intent is Intent.RESUBSCRIBE:
        return keyword
    if intent is Intent.OPT_OUT:
        return None
    every_word = tuple(word for sentence in sentences for word in sentence)
    return " ".join(every_word) if every_word in _OPT_IN_KEYWORDS else None


_DEFAULT_CLASSIFIER = RuleBasedClassifier()


def classify_reply(body: str, region: str = DEFAULT_REGION) -> Classification:
    """Classify one inbound reply with the default, rule-based classifier."""
    return _DEFAULT_CLASSIFIER.classify(body, region)
