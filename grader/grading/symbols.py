"""Refusals: what a student's object file must not contain, checked before
it is linked with the tests.

The tests, the harness and the student's code share one process. Whatever
the student's object defines under a name that the harness or the tests
also use replaces it for them (interposition), and some code runs before
the harness has set itself up. So an object is refused, by name, when it
  - has a .preinit_array section (the harness sets itself up from one,
    before any other code of the program runs);
  - defines a GNU IFUNC symbol, even a local one, or has an IRELATIVE
    relocation (their resolvers run while the program is being loaded,
    before that);
  - defines or refers to anything in the test framework's or the harness's
    namespaces (doctest::, ipclab::): student code lives in the lab's own
    namespace (pipelab::, fifolab::, ...);
  - defines, strongly or weakly, a name that the C library, libstdc++, libm,
    libgcc or librt define, or that the lab's test objects define (a student
    write() would see every byte the harness writes), also under a version
    (.symver: write@@GLIBC_2.2.5).

Honest objects define library names too: a template instantiation or an
inline function of std:: (std::string's members, say) is emitted as a weak
symbol in a COMDAT group in every object that uses it, and libstdc++.so
defines many of the same ones (explicit instantiations). Those are accepted:
a C++ (mangled) name, weak, in a COMDAT group — the way the compiler emits
the library's own code, identical everywhere by the one-definition rule.

Residual: a student who declares a library function `inline` inside
namespace std, or writes an inline explicit specialization of a library
template's member, gets such a COMDAT definition with their own body and is
not refused; that is undefined behaviour the student must write on purpose,
and the README says how a TA would notice it.
"""

from __future__ import annotations

import functools
import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError

# The libraries a test binary is linked with (see the link line in
# build.link's BEP result: -lstdc++ -lm -lrt, libc and libgcc by default).
SYSTEM_LIBRARIES = ("libc.so.6", "libstdc++.so.6", "libm.so.6", "libgcc_s.so.1", "librt.so.1")
# At the top level of a name (not pipelab::doctest::, not mydoctest::).
FORBIDDEN_NAMESPACE = re.compile(r"(?<![\w:])(doctest|ipclab)::")

_SHT_SYMTAB, _SHT_RELA, _SHT_PREINIT_ARRAY, _SHT_GROUP = 2, 4, 16, 17
_STB_LOCAL, _STB_WEAK, _STB_GNU_UNIQUE = 0, 2, 10  # unique: a static local of an inline function
_STT_GNU_IFUNC = 10
_SHN_UNDEF = 0
_GRP_COMDAT = 1
_R_X86_64_IRELATIVE = 37  # an ifunc's relocation, which asm can write without an ifunc symbol


@dataclass(frozen=True)
class Symbol:
    name: str
    defined: bool
    local: bool  # cannot interpose, but an ifunc resolver runs all the same
    weak: bool
    ifunc: bool
    in_comdat: bool

    @property
    def unversioned(self) -> str:
        return self.name.split("@", 1)[0]  # write@@GLIBC_2.2.5 (.symver) is still write


@dataclass(frozen=True)
class ObjectFile:
    sections: tuple[str, ...]
    preinit: bool  # a section of type or name .preinit_array
    irelative: bool  # a relocation that runs a resolver while the program loads
    symbols: tuple[Symbol, ...]


def read_object(path: Path) -> ObjectFile:
    """The sections, relocation types and symbols of an ELF64
    little-endian relocatable object, read directly: no tool's text output
    to parse."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise GraderError(f"{path.name} is not a 64-bit little-endian ELF object; the compiler should have made one")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]

    def string(table: int, offset: int) -> str:
        start = headers[table][4] + offset
        return data[start : data.index(b"\0", start)].decode(errors="replace")

    sections = tuple(string(shstrndx, h[0]) for h in headers)
    preinit = any(h[1] == _SHT_PREINIT_ARRAY for h in headers) or any(
        n == ".preinit_array" or n.startswith(".preinit_array.") for n in sections
    )
    comdat: set[int] = set()
    irelative = False
    for h in headers:
        if h[1] == _SHT_GROUP:
            words = struct.unpack_from(f"<{h[5] // 4}I", data, h[4])
            if words and words[0] & _GRP_COMDAT:
                comdat.update(words[1:])
        if h[1] == _SHT_RELA and h[9]:
            irelative |= any(
                struct.unpack_from("<Q", data, offset + 8)[0] & 0xFFFFFFFF == _R_X86_64_IRELATIVE
                for offset in range(h[4], h[4] + h[5], h[9])
            )
    symbols = []
    for h in headers:
        if h[1] != _SHT_SYMTAB:
            continue
        strtab, entsize = h[6], h[9]
        for offset in range(h[4] + entsize, h[4] + h[5], entsize):  # entry 0 is the null symbol
            name_offset, info, _other, shndx, _value, _size = struct.unpack_from("<IBBHQQ", data, offset)
            bind, kind = info >> 4, info & 0xF
            symbols.append(
                Symbol(
                    name=string(strtab, name_offset),
                    defined=shndx != _SHN_UNDEF,
                    local=bind == _STB_LOCAL,
                    weak=bind in (_STB_WEAK, _STB_GNU_UNIQUE),
                    ifunc=kind == _STT_GNU_IFUNC,
                    in_comdat=shndx in comdat,
                )
            )
    return ObjectFile(sections, preinit, irelative, tuple(symbols))


@functools.cache
def system_definitions() -> frozenset[str]:
    """Every name the system libraries export (their dynamic symbol tables)."""
    names: set[str] = set()
    for library in SYSTEM_LIBRARIES:
        path = _library_path(library)
        names |= _defined_names(["nm", "-D", "--defined-only", "--format=posix", str(path)])
    return frozenset(names)


def definitions_in(paths: list[Path]) -> frozenset[str]:
    """The global names that the lab's test objects define (objects or
    archives); read once per version of those files."""
    return _definitions_in(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths))


@functools.cache
def _definitions_in(versions: tuple[tuple[str, int, int], ...]) -> frozenset[str]:
    if not versions:
        return frozenset()
    return frozenset(_defined_names(["nm", "-g", "--defined-only", "--format=posix", *(v[0] for v in versions)]))


def _library_path(library: str) -> Path:
    found = subprocess.run(["g++", "-print-file-name=" + library], capture_output=True, text=True, check=False)
    path = Path(found.stdout.strip())
    if found.returncode != 0 or not path.is_absolute() or not path.exists():
        raise GraderError(
            f"cannot find {library}, whose symbols a submission must not redefine",
            tip="install g++ and libstdc++ (Debian package g++)",
        )
    return path.resolve()


def _defined_names(command: list[str]) -> set[str]:
    listed = subprocess.run(command, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        raise GraderError(f"{' '.join(command[:4])} failed: {listed.stderr.strip()[:300]}", tip="install binutils")
    names = set()
    for line in listed.stdout.splitlines():
        fields = line.split()
        # POSIX format: "name type value size"; archives add "file[member]:" lines.
        if len(fields) >= 2 and not fields[0].endswith(":"):
            names.add(fields[0].split("@", 1)[0])  # write@@GLIBC_2.2.5 -> write
    return names


def refusals(path: Path, source: str, tests_define: frozenset[str]) -> list[str]:
    """Why the object compiled from `source` cannot be linked with the tests;
    empty when it can. Each reason says what, why and what to do."""
    found = read_object(path)
    reasons = []
    if found.preinit:
        reasons.append(
            f"{source} puts a function in .preinit_array: such functions run before the test harness has "
            "set itself up, so the grader refuses them. Remove the preinit_array attribute or section."
        )
    if any(n.startswith(".gnu.lto_") for n in found.sections):
        reasons.append(
            f"{source} holds link-time-optimisation sections (.gnu.lto_*), which the compiler makes only when "
            "asked to and the linker would compile again: the grader refuses them. Remove the inline assembly "
            "that makes them."
        )
    if found.irelative:
        reasons.append(
            f"{source} has an IRELATIVE relocation: it runs a function while the program loads, before the "
            "test harness, so the grader refuses it. Remove the inline assembly that makes it."
        )
    demangled = _demangle([s.name for s in found.symbols if s.name])
    system = system_definitions()
    for symbol in found.symbols:
        readable = demangled.get(symbol.name, symbol.name)
        if symbol.ifunc:
            reasons.append(
                f"{source} defines `{readable}` as a GNU indirect function (ifunc): its resolver runs while "
                "the program loads, before the test harness, so the grader refuses it. Write an ordinary function."
            )
            continue
        space = FORBIDDEN_NAMESPACE.search(readable)
        if space:
            role = "the test framework's" if space.group(1) == "doctest" else "the grading harness's"
            verb = "defines" if symbol.defined else "uses"
            reasons.append(
                f"{source} {verb} `{readable}`, in {role} namespace {space.group(1)}: code in your files may not "
                "define or use it, because it could change how your tests are judged. Keep your code in the "
                "lab's namespace and use only what the lab's header declares."
            )
            continue
        if symbol.local or not symbol.defined or _library_copy(symbol):
            continue
        name = symbol.unversioned
        owner = "the tests" if name in tests_define else "the C or C++ library" if name in system else ""
        if owner:
            reasons.append(
                f"{source} defines `{readable}`, which {owner} already define{'s' if owner != 'the tests' else ''}: "
                "your definition would replace it for the tests and the grader's harness too, so the grader "
                "refuses it. Rename your function, make it `static`, or put it in the lab's namespace."
            )
    return reasons


def _library_copy(symbol: Symbol) -> bool:
    """A template instantiation or inline function, as the compiler emits
    the library's own code: a mangled name (or one of the compiler's DW.ref.
    pointers, to the C++ personality routine or to the type a catch clause
    names), weak, in a COMDAT group. The tests are linked before the
    student's object, so for a group both contain, the tests' own copy is
    the one kept."""
    return symbol.weak and symbol.in_comdat and symbol.name.startswith(("_Z", "DW.ref."))


def _demangle(names: list[str]) -> dict[str, str]:
    mangled = [n for n in names if n.startswith("_Z")]
    if not mangled:
        return {}
    shown = subprocess.run(["c++filt"], input="\n".join(mangled) + "\n", capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        raise GraderError(f"c++filt failed: {shown.stderr.strip()[:300]}", tip="install binutils")
    return dict(zip(mangled, shown.stdout.splitlines()))
