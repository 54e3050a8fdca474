/** `precept data convert --from hh-rlhf IN OUT`: published datasets → explicit TRL rows for `precept train`. */
import { type Command, Option } from "commander";

export function addDataCommands(program: Command): void {
  const data = program.command("data").description("convert datasets as people publish them into TRL rows");
  data
    .command("convert")
    .description(
      'write explicit TRL preference rows {prompt, chosen, rejected} from a published dataset; HH-RLHF: {"chosen": "\\n\\nHuman: …\\n\\nAssistant: …", "rejected": …}, split at the prompt the two transcripts share',
    )
    .addOption(new Option("--from <format>", "the input's format").choices(["hh-rlhf"]).makeOptionMandatory())
    .option(
      "--conversational",
      "write prompt, chosen and rejected as {role, content} message lists (for models with a chat template)",
      false,
    )
    .argument("<in>", "input file, .jsonl or .jsonl.gz (e.g. harmless-base/train.jsonl.gz)")
    .argument("<out>", "output file, .jsonl (or .jsonl.gz to gzip it)")
    .addHelpText(
      "after",
      "\nRows that cannot be converted (bad JSON, no shared prompt, identical transcripts) are skipped and counted with their file:line; the trainers also read HH-RLHF files directly, without converting.",
    )
    .action(async (input: string, output: string, options: { from: string; conversational: boolean }) => {
      const { convertHhRlhf, formatSummary } = await import("../data/convert.js");
      console.log(formatSummary(await convertHhRlhf(input, output, { conversational: options.conversational })));
    });
}
