"""demo_app: the Panel dashboard over nstcore (Gatys et al.'s neural style transfer).

Served by Bokeh server through Panel; one :class:`~demo_app.state.SessionState` (what the user chose and the run in
progress) and one :class:`~demo_app.layout.Dashboard` (widgets and views) per browser session. This package never
imports torch: it talks to the engine through nstcore's public API only.
"""
