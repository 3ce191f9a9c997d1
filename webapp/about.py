"""The About tab: each model's card, figures and credits."""

from __future__ import annotations

import streamlit as st

from mood.constants import ENSEMBLE, MOODS
from mood.engine.inference import CLEAR_MARGIN, LEANING_MARGIN
from mood.engine.manifest import NetworkManifest
from mood.presentation.charts import confusion_chart
from mood.presentation.model_card import (
    ModelCard,
    confidence_record,
    display_name,
    model_cards,
    overview_frame,
    per_class_frame,
    transfer_record,
)
from mood.presentation.report import (
    DATASET_CREDIT,
    MOOD_MEANINGS,
    calibration_sentence,
    mood_label,
    percent,
    pretrained_credit,
    reliability_markdown,
)
from webapp.state import friendly_errors


def about_tab() -> None:
    """What the moods mean, how well the models did, and what they cannot do."""
    st.header("What the moods mean")
    st.markdown(
        "The models place a song in one of the four quarters of Russell's map of emotions: "
        "**valence** (unpleasant → pleasant) across, **arousal** (calm → energetic) up.\n\n"
        + "\n".join(f"- **{mood_label(m)}**: {MOOD_MEANINGS[m]}" for m in MOODS)
        + f"\n\n**How sure?** *Clearly* means the top mood leads the next by at least "
        f"{CLEAR_MARGIN * 100:.0f} percentage points, *leaning* by at least {LEANING_MARGIN * 100:.0f}, "
        "and *mixed* means closer than that."
    )
    with friendly_errors():
        if record := confidence_record(ENSEMBLE):
            st.markdown(
                "How often each answer was right in cross-validation (the ensemble's networks together, "
                "on songs by artists they had not heard in training):\n" + reliability_markdown(record)
            )
        if transfer := transfer_record(ENSEMBLE):
            st.markdown(
                f"On music unlike what they learnt from ({transfer.collection}; never used in training) "
                "the same words were right less often:\n" + reliability_markdown(transfer.confidence)
            )
    st.header("How well the models do")
    cards: list[ModelCard] = []
    with friendly_errors():
        cards = model_cards()
        st.dataframe(
            overview_frame(cards),
            hide_index=True,
            column_config={
                "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
                "macro_f1": st.column_config.NumberColumn("macro-F1", format="%.3f"),
                "ece": st.column_config.NumberColumn(
                    "calibration error (ECE)",
                    format="%.3f",
                    help="After temperature scaling: the average gap between a stated probability and how "
                    "often such answers were right (0 is perfect).",
                ),
                "params": st.column_config.NumberColumn("parameters", format="localized"),
                "trained_on": "trained on",
            },
        )
        st.caption("Cross-validated: each clip is judged by a model that never heard its artist in training.")
        for card in cards:
            model_section(card)
    credits_section(cards)
    st.header("Limits")
    st.markdown(
        "- **Moods are subjective.** Listeners disagree about many songs; treat the answer as one opinion.\n"
        "- **30 seconds.** Searched songs are judged from a 30 s preview, which may not be typical of the song.\n"
        "- **Trained on 900 clips** of Western commercial music (the 4Q dataset); other traditions, "
        "classical or spoken audio are outside what the models have heard.\n"
        "- **Sad vs calm is the hard pair:** both are quiet and slow, so the models mix them up most often.\n"
        "- The models hear the sound only: lyrics and their meaning play no part."
    )


def model_section(card: ModelCard) -> None:
    """One model: what it combines or starts from, its cross-validated scores and calibration."""
    st.subheader(card.display_name)
    if card.name == ENSEMBLE:
        st.caption("Combines " + ", ".join(display_name(m) for m in card.members) + ".")
    if isinstance(card.manifest, NetworkManifest) and card.manifest.pretrained:
        st.caption(pretrained_credit(card.name, card.manifest.pretrained))
    if card.cv is None:
        st.info(f"{card.display_name} is not yet evaluated: its cross-validated figures will appear here.")
        return
    st.markdown(
        f"Cross-validated macro-F1 **{card.cv.macro_f1:.3f}**, accuracy **{percent(card.cv.accuracy)}**. "
        + calibration_sentence(card.cv)
    )
    scores, matrix = st.columns(2)
    scores.dataframe(
        per_class_frame(card.cv),
        column_config=dict.fromkeys(["precision", "recall", "f1"], st.column_config.NumberColumn(format="%.2f")),
    )
    matrix.altair_chart(confusion_chart(card.cv, f"{card.display_name}: what it answers"), width="stretch", theme=None)


def credits_section(cards: list[ModelCard]) -> None:
    """Who made the pretrained networks and the data the models learnt from."""
    st.header("Credits")
    credits = [
        pretrained_credit(card.name, card.manifest.pretrained)
        for card in cards
        if isinstance(card.manifest, NetworkManifest) and card.manifest.pretrained
    ]
    st.markdown("\n".join(f"- {credit}" for credit in [*credits, DATASET_CREDIT]))
