"""Camera recognition: who is in front of the camera.

    motion.py       a cheap motion gate, so an empty scene costs almost nothing
    recognizer.py   one analysed frame → recognitions (quality gate, search, cooldown)
    recent.py       the last recognitions and unknowns, for assign / reject
    corrections.py  assign (enroll through enrolld.enroll) and reject (flag or remove)
    loop.py         the thread: frames at recognize.fps → motion gate → vision worker
                    (background priority) → recognizer → events, metrics, recent
"""
