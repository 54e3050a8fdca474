#!/usr/bin/env bash
# Trains the SmolLM2-135M and Qwen2.5-0.5B shapes (random weights) through
# jax-js's WebGPU backend and records tokens/s and memory, on a machine with
# a GPU. Not run in CI or by `npm test`; written for the `device` machine,
# which has no network: install the optional `webgpu` package (Dawn) into
# node_modules here first (`npm install --no-save webgpu`) so that it travels
# with the working tree, and have a Vulkan driver there (libvulkan1 plus the
# GPU vendor's ICD; NVIDIA's driver ships one).
#
#   bash bench/gpu-scale.sh            # writes bench/results/gpu-scale.jsonl (or $OUT/gpu-scale.jsonl)
set -u
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}/gpu-scale.jsonl"
mkdir -p "$(dirname "$out")"
: > "$out"
if ! node -e 'import("webgpu")' 2>/dev/null; then
  echo "gpu-scale: the webgpu package is missing (npm install --no-save webgpu, before copying the tree to the GPU machine)" >&2
  exit 1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$out.gpu.txt"
export PRECEPT_DEVICE=webgpu
run() {
  local label="$1" script="$2" arg="$3"
  echo "== $label" >&2
  local started=$SECONDS
  local line
  line=$(timeout 900 node --import tsx "bench/$script.ts" "$arg" | tail -n 1) || line="{\"ok\":false,\"error\":\"exit $?\"}"
  echo "{\"label\":\"$label\",\"device\":\"webgpu\",\"wallSeconds\":$((SECONDS - started)),\"result\":$line}" | tee -a "$out"
}
run "smollm2-135m forward+generate" scale-probe smollm2-135m
run "smollm2-135m sft-full 4x256" memory-probe '{"shape":"smollm2-135m","mode":"full","batch":4,"seq":256,"steps":3}'
run "smollm2-135m sft-lora 4x256" memory-probe '{"shape":"smollm2-135m","mode":"lora","batch":4,"seq":256,"steps":3}'
run "qwen2.5-0.5b forward+generate" scale-probe qwen2.5-0.5b
run "qwen2.5-0.5b sft-lora 2x256" memory-probe '{"shape":"qwen2.5-0.5b","mode":"lora","batch":2,"seq":256,"steps":3}'
run "qwen2.5-0.5b dpo-lora 2x256" memory-probe '{"shape":"qwen2.5-0.5b","trainer":"dpo","mode":"lora","batch":2,"seq":256,"steps":3}'
run "qwen2.5-0.5b sft-full 2x256" memory-probe '{"shape":"qwen2.5-0.5b","mode":"full","batch":2,"seq":256,"steps":3}'
echo "gpu-scale: wrote $out" >&2
