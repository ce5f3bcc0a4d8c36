"""Statistics of review frames: descriptive tables, Learning from Deaths figures, inter-rater
agreement and models.

Statistics take frames (a validated review frame, a deaths feed), never a database. Modules:

* :mod:`sjrlib.stats.descriptive` - care scores per phase, poor care with Wilson intervals,
  problems in care, avoidability;
* :mod:`sjrlib.stats.lfd` - Learning from Deaths figures per organisation and period;
* :mod:`sjrlib.stats.agreement` - weighted kappa, Gwet's AC1/AC2, Krippendorff's alpha, ICC,
  percentage agreement, per-theme coder agreement;
* :mod:`sjrlib.stats.calibration` - calibration rounds: reviewers against the panel's answers;
* :mod:`sjrlib.stats.drift` - reviewer drift in double-reviewed real reviews (mixed model);
* :mod:`sjrlib.stats.models` - proportional-odds model of the overall score, trend in poor care;
* :mod:`sjrlib.stats.national` - the full national set in one pass.
"""
