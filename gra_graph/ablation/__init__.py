"""``gra ablate``: several graph files run on the same seeds and benched on the same pairs,
compared in one table (markdown, CSV) and one chart (PNG). See :func:`compare.ablate`."""
