"""make up serves the checkpoint that make finetune writes under the data folder."""

from __future__ import annotations

from scripts.stack import up


def test_a_checkpoint_under_the_data_folder_is_served_and_announced(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ENCODER_CHECKPOINT", raising=False)
    assert up._checkpoint(tmp_path) == ""
    found = tmp_path / "checkpoints" / "finetuned.pt"
    found.parent.mkdir()
    found.write_bytes(b"weights")
    assert up._checkpoint(tmp_path) == str(found)
    assert f"fine-tuned model: {found}" in capsys.readouterr().out


def test_encoder_checkpoint_wins_and_empty_means_imagenet(tmp_path, monkeypatch):
    found = tmp_path / "checkpoints" / "finetuned.pt"
    found.parent.mkdir()
    found.write_bytes(b"weights")
    monkeypatch.setenv("ENCODER_CHECKPOINT", "/elsewhere/model.pt")
    assert up._checkpoint(tmp_path) == "/elsewhere/model.pt"
    monkeypatch.setenv("ENCODER_CHECKPOINT", "")
    assert up._checkpoint(tmp_path) == ""
