"""The families blueprint: its views and forms.

``views`` makes the blueprint; ``followups`` (the follow-up of a rupture) adds its routes to it,
so it is imported here, with the package, before ``web.create_app`` registers the blueprint.
"""

from familyalliance.web.families import followups  # noqa: F401  (registers its routes on ``views.bp``)
