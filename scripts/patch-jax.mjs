#!/usr/bin/env node
/**
 * Fixes two problems of @jax-js/jax 0.1.25, run on `npm install`.
 *
 * 1. A reference-counting leak. The JVP rule of `reciprocal` (used by every
 *    float division, softmax and layer norm under `grad`) calls
 *    `reciprocal(x.ref)` and never consumes `x` itself, so each differentiated
 *    division leaks one device buffer: a GPT training step leaked ~66 buffers.
 *    The fix consumes `x` as every other rule does.
 * 2. A jitted call's memory is the sum of all its buffers. `JitProgram.execute`
 *    queues every kernel and only runs them when a result is read, and a
 *    queued kernel holds its buffers, so the program's frees free nothing:
 *    a training step held every activation and every gradient temporary at
 *    once (the 4 GiB wasm limit at real model sizes). On the wasm backend the
 *    fix runs each kernel as it is reached (after the pending work of the
 *    call's inputs), so a buffer is freed after its last use, as the program
 *    intends. Other backends keep the queue. It is off unless
 *    `globalThis.__jaxEagerJit` is true (engine/eager-jit.ts): with worker
 *    threads it gave a NaN gradient now and then under CPU load (seen in the
 *    quickstart's SFT step), so only steps too large for the queue use it.
 * 3. The wasm allocator never reuses memory across sizes. It keeps one free
 *    list per size class and hands a freed block only to a request of the
 *    same class, so a training step that frees a 24 MB and asks for 25 MB
 *    grows the heap; at real shapes the heap hit 4 GiB with 2.9 GiB live. The
 *    replacement is a best-fit allocator over address-ordered free blocks
 *    that splits larger blocks and merges neighbours on free. It also leaves
 *    itself on `globalThis.__jaxWasmAllocator`, so Precept can report the
 *    heap's size (engine/live-buffers.ts).
 *
 * 4. A kernel run synchronously runs on the main thread alone, and
 *    builds a new WebAssembly instance each time. Eager jit (patch 2) runs
 *    every kernel that way, so a block-by-block training step used one core
 *    of two. The fix splits a large synchronous kernel across the worker
 *    threads as the asynchronous path does: the main thread posts the other
 *    chunks, computes the first, and waits on a shared counter the workers
 *    bump (Atomics.wait; no reply message, so the pool's reply handlers are
 *    untouched). Only once the pool is up (a thread that is still starting
 *    would need the main thread's event loop to get its message); the main
 *    thread's instance is cached per kernel. Off when
 *    `globalThis.__jaxSyncThreads` is false; counted in
 *    `globalThis.__jaxSyncParallelKernels`.
 * 5. A kernel that fails on a worker thread is forgotten: the pool swallows
 *    the rejection and counts the work as done, so the next read returns
 *    whatever the memory held (how the worker-adapter race of
 *    engine/node-worker.ts showed up: wrong numbers, no error). The fix keeps
 *    the failure and throws it at the next read.
 * 6. A hook for native kernels. When `globalThis.__jaxNativeKernels` is set
 *    (engine/blas.ts), each kernel is first offered to its `plan`; a kernel
 *    it takes (a matrix product, engine/blas-plan.ts) runs as `run(plan,
 *    memory, ptrs)` (OpenBLAS's sgemm on the wasm memory, in place) in the
 *    worker pool's serial order, and the kernel's fused epilogue (bias,
 *    residual, scale, activation) then runs over the product as a wasm
 *    kernel built from the same expression. An operand that is an
 *    elementwise expression (a fused prologue) is first written to a scratch
 *    buffer by an elementwise kernel the plan gives. The plan is kept per
 *    compiled kernel; every other kernel runs as before.
 * 7. A kernel dispatched asynchronously is split across the worker threads
 *    once it has more than 512 output elements, however little work each
 *    does, and a chunk on another thread costs a round trip (~80 µs here): a
 *    batch-1 decode step's ~30 small kernels per layer waited on it. The fix
 *    splits only kernels of at least 2^17 units of work (elements × reduction
 *    length), as patch 4 does for synchronous ones.
 * 8. Elementwise kernels with an exponential or a division (softmax, SiLU,
 *    GELU's tanh, log-softmax) are compiled lane by lane, because the SIMD
 *    code generator has no exp or reciprocal: with matrix products on BLAS
 *    they were a third of a training step. The fix adds both (exp as the
 *    scalar function's arithmetic on four lanes, so results are the same bit
 *    for bit; the reciprocal as a lane-wise division).
 * 9. An eagerly run jitted call prepares each kernel again on every call,
 *    hashing its whole expression to find the compiled program (7% of a
 *    decode step). A kernel is immutable, so its wasm executable is kept on
 *    it after the first time.
 *
 * The script is idempotent and fails loudly if the code it expects is not
 * there (a different jax-js version needs these patches re-checked).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const dist = dirname(require.resolve("@jax-js/jax"));
const patches = [
  { name: "the reciprocal JVP leak", from: "const xRecip = reciprocal$1(x.ref);", to: "const xRecip = reciprocal$1(x);" },
  {
    name: "eager jit execution (execute)",
    from: "\texecute(inputs) {",
    to: "\texecute(inputs, eager = false) {",
  },
  {
    name: "eager jit execution (kernels)",
    from: "pending.push(new PendingExecute(this.backend, step.source, inputs, outputs));",
    to: "{ const exe = new PendingExecute(this.backend, step.source, inputs, outputs); if (eager) { exe.prepareSync(); exe.submit(); } else pending.push(exe); }",
  },
  {
    name: "eager jit execution (call)",
    from: "const { outputs, pending } = jitCompile(backend, jaxpr).execute(args.map((x) => x._realizeSource()));",
    to: 'const sources = args.map((x) => x._realizeSource()); const eager = backend.type === "wasm" && globalThis.__jaxEagerJit === true; if (eager) for (const exe of new Set(args.flatMap((x) => x.#pending))) { exe.prepareSync(); exe.submit(); } const { outputs, pending } = jitCompile(backend, jaxpr).execute(sources, eager);',
  },
];
const SYNC_MIN_COST = 1 << 18;
const backendPatches = [
  {
    name: "parallel synchronous kernels (worker side)",
    from: '  try {\n    if (msg.type === "kernel") {',
    to:
      '  if (msg.type === "kernel-sync") {\n' +
      "    try { kernelFunc(msg.kernelHash, msg.module)(...msg.ptrs, msg.begin, msg.end); }\n" +
      "    catch (err) { Atomics.store(msg.flag, 1, 1); }\n" +
      "    Atomics.add(msg.flag, 0, 1); Atomics.notify(msg.flag, 0);\n" +
      "    return;\n" +
      "  }\n" +
      '  try {\n    if (msg.type === "kernel") {',
  },
  {
    name: "parallel synchronous kernels (pool ready)",
    from: "\t\tthis.#ready = Promise.all(readyPromises).then(() => {\n\t\t\tURL.revokeObjectURL(url);",
    to: "\t\tthis.#ready = Promise.all(readyPromises).then(() => {\n\t\t\tthis.syncReady = true;\n\t\t\tURL.revokeObjectURL(url);",
  },
  {
    name: "parallel synchronous kernels (pool)",
    from: "\tget epoch() {\n\t\treturn this.#epoch;\n\t}\n",
    to:
      "\tget epoch() {\n\t\treturn this.#epoch;\n\t}\n" +
      "\tsyncReady = false;\n" +
      "\t#syncFlag = new Int32Array(new SharedArrayBuffer(8));\n" +
      "\t/** Runs a kernel across the main thread and the worker threads, synchronously; false when it is not worth it or the pool is not up. */\n" +
      "\tdispatchSync(program, ptrs, mainFunc, cost) {\n" +
      "\t\tif (!this.syncReady) { this.#ensureInit(); return false; }\n" +
      `\t\tif (globalThis.__jaxSyncThreads === false || cost < ${SYNC_MIN_COST} || this.#workers.length < 2) return false;\n` +
      "\t\tconst size = program.workSize;\n" +
      "\t\tconst n = Math.min(this.#workers.length, Math.ceil(size / (program.minWorkPerWorker ?? MIN_ELEMS_PER_THREAD)));\n" +
      "\t\tif (n < 2) return false;\n" +
      "\t\tconst chunkSize = Math.ceil(size / n / program.chunkAlignment) * program.chunkAlignment;\n" +
      "\t\tconst flag = this.#syncFlag;\n" +
      "\t\tAtomics.store(flag, 0, 0);\n" +
      "\t\tAtomics.store(flag, 1, 0);\n" +
      "\t\tlet posted = 0;\n" +
      "\t\tfor (let i = 1; i < n; i++) {\n" +
      "\t\t\tconst begin = i * chunkSize;\n" +
      "\t\t\tif (begin >= size) break;\n" +
      '\t\t\tthis.#workers[i].postMessage({ type: "kernel-sync", kernelHash: program.kernelHash, module: program.module, ptrs, begin, end: Math.min(begin + chunkSize, size), flag });\n' +
      "\t\t\tposted++;\n" +
      "\t\t}\n" +
      "\t\tglobalThis.__jaxSyncParallelKernels = (globalThis.__jaxSyncParallelKernels ?? 0) + 1;\n" +
      "\t\tmainFunc(...ptrs, 0, Math.min(chunkSize, size));\n" +
      "\t\tconst started = Date.now();\n" +
      "\t\tfor (let done = Atomics.load(flag, 0); done < posted; done = Atomics.load(flag, 0)) {\n" +
      '\t\t\tif (Date.now() - started > 300000) throw new Error("a wasm worker thread did not finish its kernel chunk in 300 s");\n' +
      "\t\t\tAtomics.wait(flag, 0, done, 1000);\n" +
      "\t\t}\n" +
      '\t\tif (Atomics.load(flag, 1) !== 0) throw new Error("a wasm worker failed running a kernel chunk");\n' +
      "\t\treturn true;\n" +
      "\t}\n",
  },
  {
    name: "parallel synchronous kernels (dispatch)",
    from: "\t\t\t\tconst func = new WebAssembly.Instance(program.module, { env: { memory: this.#memory } }).exports.kernel;\n\t\t\t\tfunc(...ptrs, 0, program.workSize);",
    to:
      "\t\t\t\tconst func = program.mainFunc ??= new WebAssembly.Instance(program.module, { env: { memory: this.#memory } }).exports.kernel;\n" +
      "\t\t\t\tconst cost = exe.source.size * (exe.source.reduction?.size ?? 1);\n" +
      "\t\t\t\tif (!this.#workerPool?.dispatchSync(program, ptrs, func, cost)) func(...ptrs, 0, program.workSize);",
  },
];
backendPatches.push(
  {
    name: "worker failures surface (pool)",
    from: "\t\tthis.#queue = result.then(() => {}, () => {}).then(() => {",
    to: "\t\tthis.#queue = result.then(() => {}, (err) => { this.failure ??= err; }).then(() => {",
  },
  {
    name: "worker failures surface (read)",
    from: "\t\tif (epoch) await this.#workerPool.waitForEpoch(epoch);",
    to:
      "\t\tif (epoch) await this.#workerPool.waitForEpoch(epoch);\n" +
      "\t\tconst failure = this.#workerPool?.failure;\n" +
      // biome-ignore lint/suspicious/noTemplateCurlyInString: this is code for the patched file
      "\t\tif (failure) { this.#workerPool.failure = null; throw new Error(`a wasm kernel failed on a worker thread, so results computed since may be wrong: ${failure.message}`); }",
  },
);
backendPatches.push(
  {
    name: "native kernels (pool)",
    from: "\tdispatchRoutine(routine, inputs, outputs) {",
    to:
      "\t/** Runs `run` on the main thread in the pool's serial order; an epoch as dispatch() gives. */\n" +
      "\tdispatchNative(run) {\n" +
      "\t\treturn this.#enqueue(async () => run());\n" +
      "\t}\n" +
      "\tdispatchRoutine(routine, inputs, outputs) {",
  },
  {
    name: "native kernels (dispatch)",
    from:
      "\t\t\tconst ptrs = [...inputs, ...outputs].map((slot) => this.#buffers.get(slot).ptr);\n" + "\t\t\tif (this.#workerPool && !sync) {",
    to: `\t\t\tconst ptrs = [...inputs, ...outputs].map((slot) => this.#buffers.get(slot).ptr);
\t\t\tconst nativeKernels = globalThis.__jaxNativeKernels;
\t\t\tif (nativeKernels && program.nativeFor !== nativeKernels) { program.nativeFor = nativeKernels; program.native = nativeKernels.plan(exe.source); }
\t\t\tconst native = nativeKernels ? program.native : null;
\t\t\tif (native) {
\t\t\t\tconst run = () => this.#runNative(exe.source, program, native, ptrs);
\t\t\t\tif (this.#workerPool && !sync) {
\t\t\t\t\tconst retainedSlots = [...inputs, ...outputs];
\t\t\t\t\tfor (const slot of retainedSlots) this.incRef(slot);
\t\t\t\t\tconst epoch = this.#workerPool.dispatchNative(run);
\t\t\t\t\tfor (const slot of outputs) this.#pendingWork.set(slot, epoch);
\t\t\t\t\tthis.#workerPool.waitForEpoch(epoch).then(() => {
\t\t\t\t\t\tfor (const slot of outputs) if (this.#pendingWork.get(slot) === epoch) this.#pendingWork.delete(slot);
\t\t\t\t\t\tfor (const slot of retainedSlots) this.decRef(slot);
\t\t\t\t\t});
\t\t\t\t} else {
\t\t\t\t\tif (inputs.some((slot) => { const epoch = this.#pendingWork.get(slot); return epoch && this.#workerPool.epoch < epoch; })) throw new Error("cannot dispatch synchronously with pending async work");
\t\t\t\t\trun();
\t\t\t\t}
\t\t\t} else if (this.#workerPool && !sync) {`,
  },
  {
    name: "native kernels (epilogue)",
    from: "\t#getBuffer(slot) {\n\t\tconst buffer = this.#buffers.get(slot);\n\t\tif (!buffer) throw new SlotError(slot);\n\t\treturn new Uint8Array(this.#memory.buffer,",
    to: `\t/** A matrix product in native code, then the kernel's fused epilogue (bias, residual, scale, activation) as a wasm kernel over the product, in place. */
\t#runNative(kernel, program, native, ptrs) {
\t\tconst scratch = [];
\t\ttry {
\t\t\tfor (const operand of native.plan.materialize) {
\t\t\t\toperand.program ??= this.prepareKernelSync(new Kernel(kernel.nargs, operand.plan.size, operand.plan.exp)).data.program;
\t\t\t\tconst fill = operand.program;
\t\t\t\tconst ptr = this.#allocator.malloc(operand.plan.size * 4);
\t\t\t\tscratch.push(ptr);
\t\t\t\tconst fillPtrs = [...ptrs.slice(0, kernel.nargs), ptr];
\t\t\t\tconst func = fill.mainFunc ??= new WebAssembly.Instance(fill.module, { env: { memory: this.#memory } }).exports.kernel;
\t\t\t\tif (!this.#workerPool?.dispatchSync(fill, fillPtrs, func, operand.plan.size)) func(...fillPtrs, 0, fill.workSize);
\t\t\t}
\t\t\tglobalThis.__jaxNativeKernels.run(native, this.#memory, ptrs, scratch);
\t\t} finally {
\t\t\tfor (const ptr of scratch) this.#allocator.free(ptr);
\t\t}
\t\tconst epilogue = kernel.reduction.epilogue;
\t\tif (epilogue.op === "Variable" && epilogue.arg === "acc") return;
\t\tif (program.nativeEpilogue === undefined) {
\t\t\tconst acc = AluExp.globalIndex(kernel.reduction.dtype, kernel.nargs, kernel.size, AluVar.gidx);
\t\t\tprogram.nativeEpilogue = this.prepareKernelSync(new Kernel(kernel.nargs + 1, kernel.size, epilogue.substitute({ acc }))).data.program;
\t\t}
\t\tconst after = program.nativeEpilogue;
\t\tconst output = ptrs[ptrs.length - 1];
\t\tconst afterPtrs = [...ptrs.slice(0, -1), output, output];
\t\tconst func = after.mainFunc ??= new WebAssembly.Instance(after.module, { env: { memory: this.#memory } }).exports.kernel;
\t\tif (!this.#workerPool?.dispatchSync(after, afterPtrs, func, kernel.size)) func(...afterPtrs, 0, after.workSize);
\t}
\t#getBuffer(slot) {
\t\tconst buffer = this.#buffers.get(slot);
\t\tif (!buffer) throw new SlotError(slot);
\t\treturn new Uint8Array(this.#memory.buffer,`,
  },
);
// Below this much work (output elements × reduction length) a kernel is not split across threads.
const SPLIT_MIN_COST = 1 << 17;
backendPatches.push({
  name: "small kernels on one thread (asynchronous dispatch)",
  from: "const epoch = this.#workerPool.dispatch(program.kernelHash, program.module, ptrs, program.workSize, program.chunkAlignment, program.minWorkPerWorker);",
  to: `const epoch = this.#workerPool.dispatch(program.kernelHash, program.module, ptrs, program.workSize, program.chunkAlignment, program.splitMinWork ??= Math.max(program.minWorkPerWorker ?? MIN_ELEMS_PER_THREAD, Math.ceil(${SPLIT_MIN_COST} / (exe.source.reduction?.size ?? 1))));`,
});
// e^x on four lanes: the scalar wasm_exp's arithmetic step for step (so each lane's result is the
// scalar one's, bit for bit), with its two early returns (k > 127: Infinity, k < -126: 0) as selects.
const EXP_SIMD = `function wasm_exp_simd(cg) {
	return cg.function([cg.v128], [cg.v128], () => {
		const kf = cg.local.declare(cg.v128);
		const k = cg.local.declare(cg.v128);
		const r = cg.local.declare(cg.v128);
		const res = cg.local.declare(cg.v128);
		const splatF = (c) => { cg.f32.const(c); cg.f32x4.splat(); };
		const splatI = (c) => { cg.i32.const(c); cg.i32x4.splat(); };
		cg.local.get(0);
		splatF(1 / Math.LN2);
		cg.f32x4.mul();
		cg.f32x4.nearest();
		cg.local.tee(kf);
		cg.i32x4.trunc_sat_f32x4_s();
		cg.local.set(k);
		cg.local.get(0);
		cg.local.get(kf);
		splatF(Math.LN2);
		cg.f32x4.mul();
		cg.f32x4.sub();
		cg.local.set(r);
		const coefficients = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720];
		splatF(coefficients[coefficients.length - 1]);
		for (let i = coefficients.length - 2; i >= 0; i--) {
			cg.local.get(r);
			cg.f32x4.mul();
			splatF(coefficients[i]);
			cg.f32x4.add();
		}
		cg.local.get(k);
		splatI(-126);
		cg.i32x4.max_s();
		splatI(127);
		cg.i32x4.min_s();
		splatI(127);
		cg.i32x4.add();
		cg.i32.const(23);
		cg.i32x4.shl();
		cg.f32x4.mul();
		cg.local.set(res);
		splatF(Infinity);
		cg.local.get(res);
		cg.local.get(k);
		splatI(127);
		cg.i32x4.gt_s();
		cg.v128.bitselect();
		cg.local.set(res);
		splatF(0);
		cg.local.get(res);
		cg.local.get(k);
		splatI(-126);
		cg.i32x4.lt_s();
		cg.v128.bitselect();
	});
}
`;
backendPatches.push(
  {
    name: "SIMD exp and reciprocal (supported ops)",
    from: '\t"Sqrt",\n\t"Cast",\n\t"Where",',
    to: '\t"Sqrt",\n\t"Exp",\n\t"Reciprocal",\n\t"Cast",\n\t"Where",',
  },
  {
    name: "SIMD exp and reciprocal (codegen)",
    from: '} else if (op === "Sqrt") {\n\t\t\tgen(src[0]);\n\t\t\tcg.f32x4.sqrt();',
    to:
      '} else if (op === "Sqrt") {\n\t\t\tgen(src[0]);\n\t\t\tcg.f32x4.sqrt();\n' +
      '\t\t} else if (op === "Exp") {\n\t\t\tgen(src[0]);\n\t\t\tcg.call(funcs.expSimd);\n' +
      '\t\t} else if (op === "Reciprocal") {\n\t\t\tcg.f32.const(1);\n\t\t\tcg.f32x4.splat();\n\t\t\tgen(src[0]);\n\t\t\tcg.f32x4.div();',
  },
  {
    name: "SIMD exp and reciprocal (functions)",
    from: "funcs.exp = wasm_exp(cg);",
    to: 'funcs.exp = wasm_exp(cg);\n\tif (distinctOps.has("Exp")) funcs.expSimd = wasm_exp_simd(cg);',
  },
  { name: "SIMD exp and reciprocal (exp)", from: "function wasm_exp(cg) {", to: `${EXP_SIMD}function wasm_exp(cg) {` },
);
backendPatches.push({
  name: "prepared kernels kept per kernel (synchronous)",
  from: "\tprepareKernelSync(kernel) {\n\t\tconst kernelHash = FpHash.hash(kernel).toString();\n\t\treturn new Executable(kernel, {\n\t\t\tprogram: runWithCache(compiledProgramCache, kernelHash, () => {\n\t\t\t\tconst { bytes, ...metadata } = codegenWasm(kernel);",
  to:
    "\tprepareKernelSync(kernel) {\n\t\treturn kernel.wasmExecutable ??= this.prepareKernelSyncUncached(kernel);\n\t}\n" +
    "\tprepareKernelSyncUncached(kernel) {\n\t\tconst kernelHash = FpHash.hash(kernel).toString();\n\t\treturn new Executable(kernel, {\n\t\t\tprogram: runWithCache(compiledProgramCache, kernelHash, () => {\n\t\t\t\tconst { bytes, ...metadata } = codegenWasm(kernel);",
});
const ALLOCATOR = `var WasmAllocator = class {
	#memory;
	#headPtr;
	#free;
	#allocated;
	constructor(memory) {
		this.#memory = memory;
		this.#headPtr = 64;
		this.#free = [];
		this.#allocated = new Map();
		globalThis.__jaxWasmAllocator = this;
	}
	malloc(size) {
		if (size === 0) return 0;
		const need = alignTo(size, ALLOCATION_ALIGNMENT);
		let best = -1;
		for (let i = 0; i < this.#free.length; i++) {
			const block = this.#free[i];
			if (block.size >= need && (best < 0 || block.size < this.#free[best].size)) {
				best = i;
				if (block.size === need) break;
			}
		}
		let ptr;
		if (best >= 0) {
			const block = this.#free[best];
			ptr = block.ptr;
			if (block.size === need) this.#free.splice(best, 1);
			else {
				block.ptr += need;
				block.size -= need;
			}
		} else {
			const last = this.#free[this.#free.length - 1];
			if (last && last.ptr + last.size === this.#headPtr) {
				this.#free.pop();
				ptr = last.ptr;
			} else ptr = this.#headPtr;
			this.#grow(ptr + need);
		}
		this.#allocated.set(ptr, need);
		return ptr;
	}
	free(ptr) {
		if (ptr === 0) return;
		const size = this.#allocated.get(ptr);
		if (size === void 0) throw new Error(\`Attempting to free unallocated pointer: \${ptr}\`);
		this.#allocated.delete(ptr);
		const free = this.#free;
		let lo = 0;
		let hi = free.length;
		while (lo < hi) {
			const mid = lo + hi >> 1;
			if (free[mid].ptr < ptr) lo = mid + 1;
			else hi = mid;
		}
		const prev = free[lo - 1];
		const next = free[lo];
		if (prev && prev.ptr + prev.size === ptr) {
			prev.size += size;
			if (next && prev.ptr + prev.size === next.ptr) {
				prev.size += next.size;
				free.splice(lo, 1);
			}
		} else if (next && ptr + size === next.ptr) {
			next.ptr = ptr;
			next.size += size;
		} else free.splice(lo, 0, { ptr, size });
	}
	#grow(endPtr) {
		if (endPtr > MAX_MEMORY32_BYTES) throw new RangeError("Allocation exceeds the 4 GiB memory32 limit");
		const currentBytes = this.#memory.buffer.byteLength;
		if (endPtr > currentBytes) {
			const requiredPages = Math.ceil(endPtr / WASM_PAGE_SIZE);
			const currentPages = currentBytes / WASM_PAGE_SIZE;
			this.#memory.grow(requiredPages - currentPages);
		}
		this.#headPtr = endPtr;
	}
	getStats() {
		let free = 0;
		for (const block of this.#free) free += block.size;
		return {
			totalAllocated: this.#headPtr,
			freeBytes: free,
			freeListSizes: new Map()
		};
	}
};
`;
const ALLOCATOR_START = "var WasmAllocator = class {";
const ALLOCATOR_END = "//#endregion\n//#region src/backend/wasm/builtins.ts";

for (const file of readdirSync(dist).filter((f) => /^(index|backend-[\w-]+)\.c?js$/.test(f))) {
  const path = join(dist, file);
  let source = readFileSync(path, "utf8");
  let changed = false;
  /** Applies each patch not yet applied; true when the source changed. */
  const applyPatches = (list) => {
    let applied = false;
    for (const { name, from, to } of list) {
      if (source.includes(to)) continue;
      const at = source.indexOf(from);
      if (at < 0 || source.indexOf(from, at + 1) >= 0) {
        console.error(
          `patch-jax: ${path} does not contain the expected code for ${name} exactly once; check whether this jax-js version still needs it (see scripts/patch-jax.mjs)`,
        );
        process.exit(1);
      }
      source = source.replace(from, to);
      applied = true;
      console.log(`patch-jax: ${name} in ${path}`);
    }
    return applied;
  };
  if (file.startsWith("index.")) changed = applyPatches(patches) || changed;
  else {
    if (source.includes(ALLOCATOR_START)) changed = applyPatches(backendPatches) || changed;
    if (source.includes(ALLOCATOR_START) && !source.includes("globalThis.__jaxWasmAllocator = this;")) {
      const start = source.indexOf(ALLOCATOR_START);
      const end = source.indexOf(ALLOCATOR_END, start);
      if (end < 0 || !source.slice(start, end).includes("#freeLists")) {
        console.error(`patch-jax: ${path}: the wasm allocator is not as expected; check this jax-js version (see scripts/patch-jax.mjs)`);
        process.exit(1);
      }
      source = source.slice(0, start) + ALLOCATOR + source.slice(end);
      changed = true;
      console.log(`patch-jax: best-fit wasm allocator in ${path}`);
    }
  }
  if (changed) writeFileSync(path, source);
}
const backends = readdirSync(dist).filter((f) => /^backend-[\w-]+\.c?js$/.test(f));
if (!backends.some((f) => readFileSync(join(dist, f), "utf8").includes("globalThis.__jaxWasmAllocator = this;"))) {
  console.error("patch-jax: found no wasm allocator to replace; check this jax-js version (see scripts/patch-jax.mjs)");
  process.exit(1);
}
