#!/usr/bin/env bash
# The length-collapse lab on one model: collapse, spectrum and tune on the `make data` sets.
# Writes text reports, JSON and SVG plots into results/<name>/ (committed; README quotes them).
#   scripts/lab.sh NAME MODEL_DIR [TASKS...]
# Environment: GRID (tune's τ grid), TAUS (collapse's τ list), PER_BUCKET (collapse's sample), THREADS (default 2);
# prompt names from the model's config_sentence_transformers.json (E5: query / passage), default none:
# DOC_PROMPT (collapse, spectrum, retrieval documents), QUERY_PROMPT (retrieval queries), SYM_PROMPT (similarity,
# classification: one kind of text).
set -euo pipefail
name=$1 model=$2; shift 2
tasks=${*:-"collapse spectrum lee lee-docs debian bbc-classification bbc-retrieval"}
bin=${BIN:-.build/release/tempscale} data=.cache/data out=results/$name
threads=${THREADS:-2} grid=${GRID:-0.1,0.5,0.6,0.7,0.8,0.9,1.0}
taus=${TAUS:-1,0.9,0.8,0.7,0.6,0.5} per_bucket=${PER_BUCKET:-300}
doc_prompt=(--prompt "${DOC_PROMPT:-}") query_prompt=(--query-prompt "${QUERY_PROMPT:-}")
sym_prompt=(--prompt "${SYM_PROMPT:-}") retrieval_prompts=("${query_prompt[@]}" --document-prompt "${DOC_PROMPT:-}")
mkdir -p "$out"
run() {  # run NAME CMD...: text report to NAME.txt, JSON to NAME.json, wall time to the log
    local what=$1; shift
    local t0=$SECONDS
    "$@" --json-file "$out/$what.json" > "$out/$what.txt"
    echo "$what: $((SECONDS - t0)) s" | tee -a "$out/timings.log"
}
echo "# $(date -u +%F) $(nproc) cores, $threads threads: $tasks" >> "$out/timings.log"
for t in $tasks; do
  case $t in
    collapse)
      # One source (Debian long descriptions) so the buckets differ in length, not in kind of text.
      run collapse $bin collapse "$model" --texts $data/debian-retrieval/corpus.jsonl --per-bucket "$per_bucket" \
        --temperatures "$taus" --threads "$threads" --plot "$out/collapse.svg" "${doc_prompt[@]}" ;;
    collapse-multilingual)
      # The Debian descriptions translated into 28 languages (the tokenizer corpus's debian:<lang> texts).
      python3 -c 'import gzip, json, sys
for line in gzip.open(sys.argv[1], "rt", encoding="utf-8"):
    o = json.loads(line)
    if o["source"].startswith("debian:"): print(json.dumps({"text": o["text"]}, ensure_ascii=False))' \
        .cache/tokenizers/corpus.jsonl.gz > "$out/multilingual-texts.jsonl"
      run collapse-multilingual $bin collapse "$model" --texts "$out/multilingual-texts.jsonl" --per-bucket "$per_bucket" \
        --buckets 0,16,32,64,128,256 --temperatures "$taus" --threads "$threads" --plot "$out/collapse-multilingual.svg" "${doc_prompt[@]}"
      rm "$out/multilingual-texts.jsonl" ;;
    spectrum)
      run spectrum $bin spectrum "$model" --texts $data/debian-retrieval/corpus.jsonl --per-bucket 8 \
        --temperatures 1,0.8,0.6 --threads "$threads" --plot "$out/spectrum.svg" "${doc_prompt[@]}"
      gzip -n -f "$out/spectrum.json" ;;  # every text, layer and head: large, compresses 5×
    lee) run tune-lee $bin tune "$model" --task similarity --data $data/lee-similarity --grid "$grid" --threads "$threads" "${sym_prompt[@]}" ;;
    lee-docs) run tune-lee-by-document $bin tune "$model" --task similarity --data $data/lee-similarity-by-document --grid "$grid" --threads "$threads" "${sym_prompt[@]}" ;;
    debian) run tune-debian $bin tune "$model" --task retrieval --data $data/debian-retrieval --grid "$grid" --threads "$threads" "${retrieval_prompts[@]}" ;;
    bbc-classification) run tune-bbc-classification $bin tune "$model" --task classification --data $data/bbc-classification --grid "$grid" --threads "$threads" "${sym_prompt[@]}" ;;
    bbc-retrieval) run tune-bbc-retrieval $bin tune "$model" --task retrieval --data $data/bbc-retrieval --grid "$grid" --threads "$threads" "${retrieval_prompts[@]}" ;;
    *) echo "unknown task $t" >&2; exit 2 ;;
  esac
done
