"""A small English grammar that writes varied sentences for the synthetic default corpus.

Templates hold slots such as `{subject}`; every slot occurrence is filled independently from the
word lists below, so one Generator yields thousands of distinct, speakable sentences.
"""
import re

import numpy as np

NAMES = (
    "Alice", "Martin", "Priya", "Tomas", "Grace", "Oliver", "Hannah", "Samuel", "Nadia", "George",
    "Lucy", "Daniel", "Fatima", "Peter", "Rosa", "Victor", "Emma", "Kofi", "Ingrid", "Simon",
    "Clara", "Joseph", "Maya", "Edward", "Lena", "Patrick", "Sofia", "Henry", "Julia", "Arthur",
)
CREATURES = (
    "farmer", "teacher", "doctor", "old man", "young girl", "baker", "pilot", "neighbour", "driver",
    "student", "painter", "soldier", "nurse", "fisherman", "singer", "child", "gardener", "captain",
    "dog", "cat", "horse", "fox", "owl", "rabbit", "goat", "parrot", "donkey", "sheep",
)
THINGS = (
    "letter", "basket", "lamp", "bicycle", "kettle", "map", "ladder", "blanket", "wooden box", "hat",
    "window", "garden gate", "bottle", "clock", "coat", "book", "candle", "table", "rope", "kite",
    "umbrella", "apple", "envelope", "bucket", "piano", "camera", "boat", "newspaper", "key", "jacket",
)
ADJECTIVES = (
    "old", "small", "heavy", "bright", "quiet", "red", "green", "broken", "tiny", "famous", "strange",
    "dusty", "shiny", "warm", "cold", "empty", "yellow", "gentle", "noisy", "careful", "clever", "lazy",
)
PLACES = (
    "near the river", "in the kitchen", "behind the station", "on the hill", "at the market",
    "under the bridge", "by the harbour", "in the library", "across the field", "outside the school",
    "in the garden", "at the top of the stairs", "along the coast", "inside the barn", "near the church",
)
TIMES = (
    "this morning", "last night", "after lunch", "on Sunday", "before dawn", "every evening",
    "in the spring", "at noon", "yesterday", "later today", "during the storm", "after the party",
)
EVENTS = ("the train leaves", "the rain stops", "the shop closes", "it gets dark", "the guests arrive",
          "the bell rings", "the snow melts", "the film starts")
ADVERBS = ("slowly", "quietly", "quickly", "carefully", "happily", "suddenly", "gently", "proudly")
# (base, past) pairs; transitive verbs take an object, intransitive ones do not.
TRANSITIVE = (
    ("carry", "carried"), ("find", "found"), ("paint", "painted"), ("open", "opened"), ("clean", "cleaned"),
    ("buy", "bought"), ("sell", "sold"), ("lose", "lost"), ("fix", "fixed"), ("hide", "hid"),
    ("throw", "threw"), ("borrow", "borrowed"), ("move", "moved"), ("drop", "dropped"), ("wrap", "wrapped"),
    ("bring", "brought"), ("push", "pushed"), ("watch", "watched"), ("fetch", "fetched"), ("keep", "kept"),
)
INTRANSITIVE = (
    ("sleep", "slept"), ("wait", "waited"), ("sing", "sang"), ("run", "ran"), ("laugh", "laughed"),
    ("arrive", "arrived"), ("dance", "danced"), ("rest", "rested"), ("shout", "shouted"), ("swim", "swam"),
    ("walk", "walked"), ("stay", "stayed"), ("listen", "listened"), ("work", "worked"), ("hurry", "hurried"),
)
TEMPLATES = (
    "{subject} {past} {object} {place}.",
    "{subject} {past} {object} {time}.",
    "{time}, {subject} {ipast} {place}.",
    "{subject} {ipast} {adverb} {place}.",
    "did {subject} {base} {object} {time}?",
    "why did {subject} {ibase} {place}?",
    "{name} thinks that {subject} will {base} {object}.",
    "please {base} {object} before {event}.",
    "{subject} and {subject} {past} {object}.",
    "we will {ibase} {place} until {event}.",
    "there was {object} {place} {time}.",
    "{name} said that {object} was very {adjective}.",
    "if {event}, {subject} will {ibase} {place}.",
    "{subject} never {past} {object} {place}.",
    "where did {name} {base} {object}?",
    "{object} is too {adjective} to {base} {place}.",
)
MIN_WORDS, MAX_WORDS = 4, 12


def _pick(rng: np.random.Generator, options: tuple):
    return options[rng.integers(len(options))]


def _with_article(rng: np.random.Generator, noun: str) -> str:
    """`noun` after 'the', 'a' or 'an', with an adjective half of the time."""
    if rng.random() < 0.5:
        noun = f"{_pick(rng, ADJECTIVES)} {noun}"
    if rng.random() < 0.5:
        return f"the {noun}"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _subject(rng: np.random.Generator) -> str:
    return _pick(rng, NAMES) if rng.random() < 0.4 else _with_article(rng, _pick(rng, CREATURES))


SLOTS = {
    "subject": _subject,
    "object": lambda rng: _with_article(rng, _pick(rng, THINGS)),
    "name": lambda rng: _pick(rng, NAMES),
    "place": lambda rng: _pick(rng, PLACES),
    "time": lambda rng: _pick(rng, TIMES),
    "event": lambda rng: _pick(rng, EVENTS),
    "adverb": lambda rng: _pick(rng, ADVERBS),
    "adjective": lambda rng: _pick(rng, ADJECTIVES),
    "base": lambda rng: _pick(rng, TRANSITIVE)[0],
    "past": lambda rng: _pick(rng, TRANSITIVE)[1],
    "ibase": lambda rng: _pick(rng, INTRANSITIVE)[0],
    "ipast": lambda rng: _pick(rng, INTRANSITIVE)[1],
}


def random_sentence(rng: np.random.Generator) -> str:
    """One sentence of MIN_WORDS..MAX_WORDS words, capitalised and punctuated, drawn from `rng`."""
    while True:
        template = _pick(rng, TEMPLATES)
        sentence = re.sub(r"\{(\w+)\}", lambda slot: SLOTS[slot.group(1)](rng), template)
        if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
            return sentence[0].upper() + sentence[1:]
