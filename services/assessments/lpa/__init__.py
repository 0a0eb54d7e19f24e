"""The annual Local Performance Assessment (LPA): frameworks, rounds, self-assessment and evidence,
assessor teams, scores, results and their follow-up (issue #19). Its rules are in ``domain.py``."""
