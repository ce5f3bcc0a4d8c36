"""Voila dashboards: review entry (:mod:`.entry_form`) and exploration (:mod:`.explore`), and
how they are served (:mod:`.serve`). The notebooks in ``notebooks/`` only display these."""
