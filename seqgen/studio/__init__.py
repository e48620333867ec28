"""seqgen studio: a local web page to generate from your models, see the tunes as sheet music and
hear them (``seqgen studio``). ``app.create_app`` builds the ASGI app; the page is in ``static/``.
"""
