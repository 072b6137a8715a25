"""`dvc repro` for real, in a copy of the repository: byte-identical outputs, then a no-op."""

from __future__ import annotations

import pytest

from tests.conftest import BIN, run, working_tree_copy


@pytest.mark.slow
def test_dvc_repro_on_a_fresh_clone_reproduces_the_committed_files(tmp_path):
    """A clone holds ISD's tables (git) but not ARAUS/SATP/DeLTA's (DVC cache, raw absent):
    `dvc repro` recreates those as "not built", changes no committed byte, and then has
    nothing left to do; a forced rebuild of everything changes no committed byte either."""
    repo = working_tree_copy(tmp_path / "repo")
    dvc = str(BIN / "dvc")
    out = run([dvc, "repro"], cwd=repo).stdout
    assert "Running stage 'build@ISD'" not in out  # ISD is committed and up to date
    for ds in ("ARAUS", "SATP", "DeLTA"):
        assert f"Running stage 'build-local@{ds}'" in out
        assert f"{ds}: not built: raw input absent" in out
    # the recreated outputs are the recorded ones, so nothing downstream needs to run
    assert "Stage 'validate' didn't change" in out
    porcelain = run(["git", "status", "--porcelain"], cwd=repo).stdout
    assert porcelain == "", f"dvc repro changed committed files:\n{porcelain}"
    again = run([dvc, "repro"], cwd=repo).stdout
    assert "Running stage" not in again and "up to date" in again

    forced = run([dvc, "repro", "--force"], cwd=repo).stdout
    for stage in ("build@ISD", "build-local@DeLTA", "catalogue", "validate"):
        assert f"Running stage '{stage}'" in forced
    porcelain = run(["git", "status", "--porcelain"], cwd=repo).stdout
    assert porcelain == "", f"dvc repro --force changed committed files:\n{porcelain}"


@pytest.mark.slow
def test_a_failed_validation_fails_dvc_repro(tmp_path):
    repo = working_tree_copy(tmp_path / "repo")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("tolerance: 1.0e-9", "tolerance: -1.0"))
    proc = run([str(BIN / "dvc"), "repro"], cwd=repo, check=False)
    assert proc.returncode != 0
    assert "validation FAILED" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_changing_the_angle_table_marks_exactly_the_paq_builds(tmp_path):
    repo = working_tree_copy(tmp_path / "repo")
    dvc = str(BIN / "dvc")
    run([dvc, "repro"], cwd=repo)  # recreate the outputs that are not in git
    params = repo / "params.yaml"
    params.write_text(
        params.read_text().replace("angle_table: aletta2024", "angle_table: satp_sem")
    )
    status = run([dvc, "status"], cwd=repo).stdout
    changed = {
        line.rstrip(":")
        for line in status.splitlines()
        if line and not line.startswith((" ", "\t"))
    }
    assert changed == {"build@ISD", "build-local@ARAUS", "build-local@SATP"}, status
    diff = run([dvc, "params", "diff"], cwd=repo).stdout
    assert "build.harmonise.angle_table" in diff and "satp_sem" in diff


@pytest.mark.slow
def test_a_feature_setting_on_a_branch_shows_in_params_diff_and_marks_only_its_stages(tmp_path):
    repo = working_tree_copy(tmp_path / "repo")
    dvc = str(BIN / "dvc")
    run([dvc, "repro"], cwd=repo)
    run(["git", "checkout", "-q", "-b", "bf16"], cwd=repo)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("precision: fp32", "precision: bf16"))
    run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qam", "bf16"],
        cwd=repo,
    )
    main = run(["git", "rev-parse", "HEAD~1"], cwd=repo).stdout.strip()
    diff = run([dvc, "params", "diff", main, "HEAD"], cwd=repo).stdout
    assert "clip.precision" in diff and "fp32" in diff and "bf16" in diff
    status = run([dvc, "status"], cwd=repo).stdout
    changed = {
        line.rstrip(":")
        for line in status.splitlines()
        if line and not line.startswith((" ", "\t"))
    }
    assert changed == {"clip@ISD"} | {f"clip-local@{ds}" for ds in ("ARAUS", "SATP", "DeLTA")}, (
        status
    )
