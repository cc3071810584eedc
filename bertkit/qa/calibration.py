"""A small, fixed set of questions with reference answers, written for bertkit.

It vets an int8 QA export before first use: its F1 on these questions must stay within
0.5 points of torch fp32's (``bertkit.qa.engine``). Short contexts, a few with numbers
and names, and one long context that takes several windows.
"""

from __future__ import annotations

__all__ = ["CALIBRATION_QA"]

_FILLER = (
    "The valley is known for its orchards, its narrow stone bridges and a market that has been held "
    "every Saturday for as long as anyone can remember. Visitors walk along the river, stop at the bakeries "
    "and climb to the ruined tower for the view over the fields. "
)

# (question, context, reference answers)
CALIBRATION_QA: list[tuple[str, str, list[str]]] = [
    ("Who designed the bridge?", "The Harbor Bridge was designed by the engineer Clara Mendes and opened to traffic in 1932.", ["Clara Mendes"]),
    ("When did the bridge open?", "The Harbor Bridge was designed by the engineer Clara Mendes and opened to traffic in 1932.", ["1932"]),
    ("What is the capital of the province?", "Lorvik is the capital of the northern province, while Tessa, the largest city, lies on the coast.", ["Lorvik"]),
    ("Which city is the largest?", "Lorvik is the capital of the northern province, while Tessa, the largest city, lies on the coast.", ["Tessa"]),
    ("How many moons does the planet have?", "The planet Veyra has three moons and a thin atmosphere made mostly of nitrogen.", ["three"]),
    ("What is the atmosphere made of?", "The planet Veyra has three moons and a thin atmosphere made mostly of nitrogen.", ["nitrogen", "mostly of nitrogen"]),
    ("What does the enzyme break down?", "Amylase is an enzyme in saliva that breaks down starch into sugars.", ["starch"]),
    ("Where is amylase found?", "Amylase is an enzyme in saliva that breaks down starch into sugars.", ["saliva", "in saliva"]),
    ("Who won the final?", "In the final, the Riverside Hawks beat the Granite Bears by two goals to one after extra time.", ["the Riverside Hawks", "Riverside Hawks"]),
    ("What was the score of the final?", "In the final, the Riverside Hawks beat the Granite Bears by two goals to one after extra time.", ["two goals to one"]),
    ("How long is the trail?", "The coastal trail runs for 42 kilometres between the lighthouse and the fishing village of Amsel.", ["42 kilometres"]),
    ("What is at one end of the trail?", "The coastal trail runs for 42 kilometres between the lighthouse and the fishing village of Amsel.", ["the lighthouse", "lighthouse", "the fishing village of Amsel"]),
    ("What language was the novel written in?", "The novel was written in Portuguese in 1911 and translated into English only in 1980.", ["Portuguese"]),
    ("When was the novel translated into English?", "The novel was written in Portuguese in 1911 and translated into English only in 1980.", ["1980", "only in 1980"]),
    ("What powers the factory?", "Since its renovation, the old textile factory has been powered entirely by a hydroelectric plant on the river.", ["a hydroelectric plant", "hydroelectric plant on the river", "a hydroelectric plant on the river"]),
    ("What did the factory make?", "Since its renovation, the old textile factory has been powered entirely by a hydroelectric plant on the river.", ["textile", "textiles"]),
    ("Who founded the observatory?", _FILLER * 4 + "The observatory on the hill was founded by the astronomer Ines Kowalski in 1887. " + _FILLER * 4, ["Ines Kowalski", "the astronomer Ines Kowalski"]),
    ("When was the observatory founded?", _FILLER * 4 + "The observatory on the hill was founded by the astronomer Ines Kowalski in 1887. " + _FILLER * 4, ["1887", "in 1887"]),
    ("What is held every Saturday?", _FILLER * 3, ["a market"]),
    ("What do visitors climb to?", _FILLER * 2, ["the ruined tower", "ruined tower"]),
]
