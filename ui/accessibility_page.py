"""« Déclaration d'accessibilité »: what public bodies publish about their services' accessibility (RGAA 4.1)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Déclaration d'accessibilité — Sourcier")  # each page its own title (RGAA 8.6)
st.title("Déclaration d'accessibilité")
st.markdown(
    """
La collectivité qui exploite Sourcier s'engage à rendre ses services numériques accessibles, conformément à
l'article 47 de la loi n° 2005-102 du 11 février 2005. Cette déclaration s'applique à l'assistant documentaire
Sourcier.

## État de conformité

Sourcier est **partiellement conforme** avec le référentiel général d'amélioration de l'accessibilité (RGAA),
version 4.1, en raison des non-conformités énumérées ci-dessous. Aucun audit complet n'a encore été réalisé : l'état
ci-dessous résulte des vérifications automatiques faites à chaque version (axe-core dans un navigateur réel) et de
contrôles manuels.

## Contenus non accessibles

- Certains libellés des éléments fournis par le cadre de l'application (Streamlit) restent en anglais pour les
  lecteurs d'écran (boutons de réduction du menu, zone d'envoi de fichier).
- Les graphiques de la page « Qualité des documents » n'ont pas d'équivalent textuel complet : les mêmes chiffres
  figurent dans les tableaux et l'export CSV.
- Les documents sources (PDF scannés notamment) ne relèvent pas de Sourcier : leur accessibilité dépend de leurs
  auteurs. Le rapport de qualité signale les documents scannés sans texte.

## Établissement de cette déclaration

Cette déclaration a été établie le 7 décembre 2026, à partir des tests automatiques de l'application.

## Retour d'information et contact

Si vous n'arrivez pas à accéder à un contenu ou à un service, contactez le service informatique de votre
collectivité pour être orienté vers une alternative accessible ou obtenir le contenu sous une autre forme.

## Voies de recours

Si vous constatez un défaut d'accessibilité vous empêchant d'accéder à un contenu ou à une fonctionnalité, que vous
nous le signalez et que vous ne parvenez pas à obtenir une réponse de notre part, vous pouvez :

- écrire un message au Défenseur des droits ;
- contacter le délégué du Défenseur des droits dans votre région ;
- envoyer un courrier par la poste (gratuit, ne pas mettre de timbre) : Défenseur des droits, Libre réponse 71120,
  75342 Paris CEDEX 07.
"""
)
