/** Child process for the kill-during-checkpoint test: trains the tiny LM, saving every 2 steps. */
import { trainTinyLm } from "./lm-training.js";

const [outputDir, resume] = process.argv.slice(2);
await trainTinyLm({ output_dir: outputDir, max_steps: 6, save_steps: 2 }, resume);
console.log("done");
