"""Unpacking a class: every layout a course platform exports, and every
unsafe archive refused for its student alone, with a reason naming it."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.classroom import unpack
from grader.errors import GraderError
from grader.grading.lab import load_lab

PIPE = load_lab("pipe")
CODE = b"// a student's pipe_lab.cpp\nint answer = 42;\n"


def collect(source: Path, scratch: Path, **limits) -> dict[str, unpack.Submission]:
    found = unpack.collect(source, PIPE, scratch, unpack.Limits(**limits) if limits else unpack.Limits())
    return {s.student: s for s in found.submissions}


def graded_file(submission: unpack.Submission) -> bytes:
    assert submission.directory is not None, submission.problem
    assert sorted(p.name for p in submission.directory.iterdir()) == ["pipe_lab.cpp"]
    return (submission.directory / "pipe_lab.cpp").read_bytes()


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def write_tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for info in members:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
            t.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def tar_entry(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


# ---- layouts ------------------------------------------------------------


def test_one_folder_per_student_finds_files_at_any_depth(tmp_path: Path) -> None:
    source = tmp_path / "class"
    (source / "alice").mkdir(parents=True)
    (source / "alice" / "pipe_lab.cpp").write_bytes(CODE)
    (source / "bob" / "lab1" / "src").mkdir(parents=True)
    (source / "bob" / "lab1" / "src" / "pipe_lab.cpp").write_bytes(CODE + b"// bob\n")
    (source / "bob" / "notes.txt").write_text("extra files are ignored")
    (source / ".DS_Store").write_text("junk")
    found = collect(source, tmp_path / "scratch")
    assert sorted(found) == ["alice", "bob"]
    assert graded_file(found["alice"]) == CODE
    assert graded_file(found["bob"]).endswith(b"// bob\n")
    assert "graded lab1/src/pipe_lab.cpp" in found["bob"].notes
    assert found["alice"].fingerprint and found["alice"].fingerprint != found["bob"].fingerprint


def test_a_class_archive_with_a_top_folder_is_looked_through(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "class.zip",
        {
            "export/alice/pipe_lab.cpp": CODE,
            "export/bob/pipe_lab.cpp": CODE,
            "__MACOSX/export/._alice": b"junk",
        },
    )
    assert sorted(collect(archive, tmp_path / "scratch")) == ["alice", "bob"]


def test_a_class_archive_with_student_archives_beside_folders_is_looked_through(tmp_path: Path) -> None:
    inner = write_zip(tmp_path / "carol.zip", {"pipe_lab.cpp": CODE}).read_bytes()
    archive = write_zip(
        tmp_path / "class.zip", {"class/": b"", "class/alice/pipe_lab.cpp": CODE, "class/carol.zip": inner}
    )
    found = collect(archive, tmp_path / "scratch")
    assert sorted(found) == ["alice", "carol"]
    assert graded_file(found["carol"]) == CODE


def test_a_lone_student_folder_is_not_taken_for_a_wrapper(tmp_path: Path) -> None:
    (tmp_path / "class" / "alice").mkdir(parents=True)
    (tmp_path / "class" / "alice" / "pipe_lab.cpp").write_bytes(CODE)
    assert sorted(collect(tmp_path / "class", tmp_path / "scratch")) == ["alice"]


def test_a_gradescope_export_maps_submissions_to_students(tmp_path: Path) -> None:
    metadata = """\
submission_101:
  :submitters:
  - :name: Jane Doe
    :sid: '1001'
    :email: jane@example.edu
  :score: !ruby/object:BigDecimal 18:0.5e2
submission_102:
  :submitters:
  - :name: Ann Lee
    :sid: '1002'
    :email: ann@example.edu
  - :name: Bo Kim
    :sid: '1003'
    :email: bo@example.edu
submission_103:
  :submitters:
  - :name: Cy Gone
    :sid: '1004'
    :email: cy@example.edu
"""
    archive = write_zip(
        tmp_path / "export.zip",
        {
            "assignment_7_export/submission_metadata.yml": metadata.encode(),
            "assignment_7_export/submission_101/pipe_lab.cpp": CODE,
            "assignment_7_export/submission_102/code/pipe_lab.cpp": CODE,
        },
    )
    result = unpack.collect(archive, PIPE, tmp_path / "scratch")
    assert result.layout == "gradescope"
    found = {s.student: s for s in result.submissions}
    assert sorted(found) == ["ann@example.edu", "bo@example.edu", "cy@example.edu", "jane@example.edu"]
    assert (found["jane@example.edu"].name, found["jane@example.edu"].platform_id) == ("Jane Doe", "1001")
    assert graded_file(found["ann@example.edu"]) == graded_file(found["bo@example.edu"]) == CODE  # a group
    assert found["ann@example.edu"].group == found["bo@example.edu"].group == "submission_102"
    assert found["jane@example.edu"].group == "", "a student alone is no group"
    assert "listed in submission_metadata.yml but not in the export" in found["cy@example.edu"].problem


def test_a_canvas_download_is_grouped_by_student_and_renamed_back(tmp_path: Path) -> None:
    source = tmp_path / "canvas"
    source.mkdir()
    (source / "doe_jane_12345_67890_pipe_lab.cpp").write_bytes(b"// first upload\n")
    (source / "doe_jane_12345_67891_pipe_lab-1.cpp").write_bytes(b"// uploaded again\n")
    (source / "lee_ann_LATE_222_333_pipe_lab.cpp").write_bytes(CODE)
    (source / "kim_bo_444_555_pipe.cpp").write_bytes(CODE)
    result = unpack.collect(source, PIPE, tmp_path / "scratch")
    assert result.layout == "canvas"
    found = {s.student: s for s in result.submissions}
    assert graded_file(found["doe_jane"]) == b"// uploaded again\n"
    assert found["doe_jane"].platform_id == "12345"
    assert any("pipe_lab-1.cpp was taken as pipe_lab.cpp" in n for n in found["doe_jane"].notes)
    assert "Canvas marked this submission late" in found["lee_ann"].notes
    assert "pipe_lab.cpp is missing; found pipe.cpp" in found["kim_bo"].problem


def test_a_students_own_archive_is_unpacked(tmp_path: Path) -> None:
    source = tmp_path / "class"
    (source / "alice").mkdir(parents=True)
    write_zip(source / "alice" / "handin.zip", {"pipe/pipe_lab.cpp": CODE})
    write_tar(tmp_path / "bob.tar.gz", [tar_entry("work/pipe_lab.cpp")], {"work/pipe_lab.cpp": CODE})
    (source / "bob.tar.gz").write_bytes((tmp_path / "bob.tar.gz").read_bytes())
    found = collect(source, tmp_path / "scratch")
    assert graded_file(found["alice"]) == CODE
    assert "graded handin.zip/pipe/pipe_lab.cpp" in found["alice"].notes
    assert graded_file(found["bob"]) == CODE


# ---- what cannot be graded ----------------------------------------------


@pytest.mark.parametrize(
    "files, problem",
    [
        ({}, "empty submission: no files"),
        ({"pipe_lab.cpp": b"  \n"}, "pipe_lab.cpp is empty"),
        ({"Pipe_Lab.cpp": CODE}, "pipe_lab.cpp is missing; found Pipe_Lab.cpp"),
        ({"readme.txt": b"hi", "main.py": b"x"}, "pipe_lab.cpp is missing (the submission holds main.py, readme.txt)"),
    ],
)
def test_a_submission_without_a_usable_file_says_why(tmp_path: Path, files: dict[str, bytes], problem: str) -> None:
    student = tmp_path / "class" / "alice"
    student.mkdir(parents=True)
    for name, data in files.items():
        (student / name).write_bytes(data)
    found = collect(tmp_path / "class", tmp_path / "scratch")["alice"]
    assert found.directory is None
    assert found.problem.startswith(problem)


def test_a_symbolic_link_is_never_followed(tmp_path: Path) -> None:
    student = tmp_path / "class" / "alice"
    student.mkdir(parents=True)
    (student / "pipe_lab.cpp").symlink_to("/etc/passwd")
    found = collect(tmp_path / "class", tmp_path / "scratch")["alice"]
    assert found.problem == "pipe_lab.cpp is a symbolic link: submit the file itself"


def test_students_whose_names_clash_get_distinct_keys(tmp_path: Path) -> None:
    for name in ("a b", "a_b", "a.b"):
        (tmp_path / "class" / name).mkdir(parents=True)
        (tmp_path / "class" / name / "pipe_lab.cpp").write_bytes(CODE)
    keys = {s.student: s.key for s in unpack.collect(tmp_path / "class", PIPE, tmp_path / "scratch").submissions}
    assert sorted(keys.values()) == ["a_b", "a_b-2", "a_b-3"]
    assert keys["a b"] == "a_b"  # sorted by name: the same keys every run


# ---- unsafe archives: refused for their student alone ---------------------


def unsafe_class(tmp_path: Path, member: tarfile.TarInfo, data: bytes | None = None) -> dict[str, unpack.Submission]:
    members = [tar_entry("class/good/pipe_lab.cpp"), tar_entry("class/fine/pipe_lab.cpp"), member]
    payloads = {"class/good/pipe_lab.cpp": CODE, "class/fine/pipe_lab.cpp": CODE} | (
        {member.name: data} if data is not None else {}
    )
    archive = write_tar(tmp_path / "class.tar.gz", members, payloads)
    return collect(archive, tmp_path / "scratch")


@pytest.mark.parametrize(
    "member, data, reason",
    [
        (
            tar_entry("class/mallory/../../escape.txt"),
            b"x",
            "path leaving the directory: class/mallory/../../escape.txt",
        ),
        (tar_entry("/etc/mallory/pipe_lab.cpp"), CODE, "absolute path /etc/mallory/pipe_lab.cpp"),
        (
            tar_entry("class/mallory/pipe_lab.cpp", tarfile.SYMTYPE, "../../../etc/passwd"),
            None,
            "link leaving the directory: class/mallory/pipe_lab.cpp -> ../../../etc/passwd",
        ),
        (tar_entry("class/mallory/pipe_lab.cpp", tarfile.LNKTYPE, "/etc/shadow"), None, "link leaving the directory"),
        (tar_entry("class/mallory/null", tarfile.CHRTYPE), None, "device file or FIFO: class/mallory/null"),
        (tar_entry("class/mallory/pipe", tarfile.FIFOTYPE), None, "device file or FIFO: class/mallory/pipe"),
    ],
)
def test_an_unsafe_member_refuses_its_student_and_no_one_else(tmp_path: Path, member, data, reason: str) -> None:
    found = unsafe_class(tmp_path, member, data)
    assert graded_file(found["good"]) == graded_file(found["fine"]) == CODE
    refused = [s for name, s in found.items() if name not in ("good", "fine")]
    assert len(refused) == 1 and refused[0].directory is None
    assert reason in refused[0].problem
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "scratch" / "escape.txt").exists()


def test_a_students_archive_expanding_past_the_limit_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "class"
    (source / "alice").mkdir(parents=True)
    with zipfile.ZipFile(source / "alice" / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("pipe_lab.cpp", b"/" * (3 * 1024 * 1024))  # compresses to a few KiB
    (source / "bob").mkdir()
    (source / "bob" / "pipe_lab.cpp").write_bytes(CODE)
    found = collect(source, tmp_path / "scratch", student_bytes=1024 * 1024)
    assert found["alice"].problem == "bomb.zip refused: expands past 1 MiB: pipe_lab.cpp"
    assert graded_file(found["bob"]) == CODE
    assert not list((tmp_path / "scratch").rglob("pipe_lab.cpp"))[1:], "nothing of the bomb stays on disk"


def test_a_damaged_student_archive_is_refused_with_its_name(tmp_path: Path) -> None:
    source = tmp_path / "class"
    (source / "alice").mkdir(parents=True)
    (source / "alice" / "handin.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    found = collect(source, tmp_path / "scratch")["alice"]
    assert found.problem.startswith("handin.zip refused: the archive is damaged or not an archive")


def test_a_zip_with_a_windows_traversal_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "class"
    (source / "alice").mkdir(parents=True)
    write_zip(source / "alice" / "handin.zip", {"..\\..\\evil.cpp": b"x", "pipe_lab.cpp": CODE})
    found = collect(source, tmp_path / "scratch")["alice"]
    assert found.problem == "handin.zip refused: path leaving the directory: ..\\..\\evil.cpp"


def test_a_damaged_class_archive_stops_with_a_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "class.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08 truncated")
    with pytest.raises(GraderError) as error:
        unpack.collect(archive, PIPE, tmp_path / "scratch")
    assert "cannot be read" in error.value.message and error.value.tip


def test_an_encrypted_member_refuses_its_student(tmp_path: Path) -> None:
    source = tmp_path / "class"
    (source / "alice").mkdir(parents=True)
    data = bytearray(write_zip(tmp_path / "plain.zip", {"pipe_lab.cpp": CODE}).read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1  # the "encrypted" flag, in both headers: a password is needed
    data[central + 8] |= 0x1
    (source / "alice" / "handin.zip").write_bytes(bytes(data))
    found = collect(source, tmp_path / "scratch")["alice"]
    assert found.problem.startswith("handin.zip refused: cannot be extracted: pipe_lab.cpp")


def test_an_empty_student_folder_in_a_class_archive_still_gets_a_row(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "class.zip", {"alice/pipe_lab.cpp": CODE, "bob/": b""})
    found = collect(archive, tmp_path / "scratch")
    assert found["bob"].problem == "empty submission: no files"
