"""Audio of the clips: reading and checking it (:mod:`.media`), mapping it to pascals
(:mod:`.calibration`), acoustic indicators with ISD's names and units (:mod:`.acoustics`) and
CLAP embeddings (:mod:`.clap`).

Heavy libraries (PyAV, MoSQITo, acoustic-toolbox, transformers, torch) are imported inside the
functions that use them, so importing this package stays cheap.
"""
