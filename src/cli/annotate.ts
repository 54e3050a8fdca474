/**
 * `precept annotate serve|add-user|create-campaign|export|report`: human
 * feedback. Options only; the implementation is imported when a command runs.
 */
import { type Command, Option } from "commander";
import { anyInt, intIn, numberIn, positiveInt } from "./numbers.js";
import { storeLocation } from "./store-location.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addAnnotateCommands(program: Command): void {
  const annotate = program
    .command("annotate")
    .description("human feedback: a web app where annotators compare and flag responses, with agreement, consensus and exports")
    .addHelpText(
      "after",
      `
Secrets come from the environment, not the command line (where \`ps\` shows them to every user):
PRECEPT_ADMIN_TOKEN (or --admin-token-file FILE) for the admin token, PRECEPT_DB for a
postgres:// store URL with a password. Annotator tokens are printed once, by add-user and rotate-token.

A typical session (the store is --db, default precept.db):
  precept annotate create-campaign --from-run RUN --name safety-v1 --overlap 3 --guidelines guide.md
  precept annotate add-user alice --campaign safety-v1      # prints alice's token, once
  precept annotate serve --port 8080                         # prints the admin token if not given
  precept annotate export safety-v1 --consensus --out prefs.jsonl
  precept train rm --model_name_or_path BASE --train_file prefs.jsonl --output_dir rm`,
    );

  annotate
    .command("serve")
    .description("serve the annotation app (task screen for annotators, dashboard for the admin) over the store")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free port)", intIn({ min: 0, max: 65535 }), 8080)
    .option(
      "--admin-token <token>",
      "the admin's token, 16+ characters (default: a new one, printed); on the command line other users see it in `ps`: prefer PRECEPT_ADMIN_TOKEN or --admin-token-file",
    )
    .option("--admin-token-file <file>", "read the admin's token from this file (first line)")
    .option("--max-body <bytes>", "largest accepted request body", positiveInt, 256 * 1024)
    .action(async (options, command: Command) => {
      await (await import("./annotate-run.js")).serve(options, storeLocation(command));
    });

  annotate
    .command("add-user")
    .description(
      "add an annotator and print their sign-in token (shown once; only its hash is stored); an existing annotator joins the campaigns",
    )
    .argument("<name>", "the annotator's name (letters, digits, spaces, . @ _ -)")
    .option("--campaign <campaign>", "a campaign (name or id) this annotator works in; repeat for several", collect, [])
    .action(async (name: string, options, command: Command) =>
      (await import("./annotate-run.js")).addUser(name, options, storeLocation(command)),
    );

  annotate
    .command("rotate-token")
    .description("issue a new sign-in token for an annotator (printed once); the old token stops working at once")
    .argument("<name>", "the annotator's name")
    .action(async (name: string, _options, command: Command) => (await import("./annotate-run.js")).rotate(name, storeLocation(command)));

  annotate
    .command("revoke")
    .description("revoke an annotator's token (e.g. a leaked one): it no longer signs in; answers are kept; rotate-token lets them back in")
    .argument("<name>", "the annotator's name")
    .action(async (name: string, _options, command: Command) => (await import("./annotate-run.js")).revoke(name, storeLocation(command)));

  annotate
    .command("create-campaign")
    .description("create a campaign from a run's stored comparisons or from a JSONL file; pairs with the same prompt become one item")
    .option("--from-run <run>", "a run whose comparison records to annotate (its ai_label records are compared with people)")
    .option("--from-jsonl <file>", 'JSONL rows {"prompt", "responses": [...]} or {"prompt", "chosen", "rejected"}')
    .requiredOption("--name <name>", "campaign name")
    .option("--overlap <n>", "annotators per item", intIn({ min: 1, max: 100 }), 3)
    .addOption(new Option("--mode <mode>", "pick the best response, or rank them all").choices(["pick", "rank"]).default("pick"))
    .option("--flags <list>", "comma-separated flags to offer", "pii,hate_harassment,dangerous_advice,medical_no_disclaimer,other")
    .option("--guidelines <file>", "Markdown shown beside every task")
    .option("--ai-run <run>", "also compare with this run's ai_label records; repeat for several", collect, [])
    .option("--seed <n>", "seed for each annotator's response order", anyInt, 0)
    .option(
      "--assignment-timeout <minutes>",
      "minutes an open task may sit untouched before it is given back for others (0: never)",
      numberIn({ min: 0, max: 525_600 }),
      60,
    )
    .action(async (options, command: Command) => (await import("./annotate-run.js")).createCampaign(options, storeLocation(command)));

  annotate
    .command("export")
    .description("write a campaign's consensus as TRL preference JSONL (for precept train rm), or its raw answers")
    .argument("<campaign>", "campaign name or id")
    .option("--consensus", "one {prompt, chosen, rejected, margin} row per decided pair; margin = agreement strength", false)
    .option("--raw", "every live answer: annotator, shown order, ranking, flags, reason", false)
    .option("--margin-scale <x>", "multiply consensus margins by this (0: no margin)", numberIn({ min: 0 }), 1)
    .addOption(
      new Option(
        "--unacceptable <policy>",
        '"all unacceptable" answers: vote (a vote for neither response: a pair needs more votes than that), veto (any one leaves the item out), ignore',
      )
        .choices(["vote", "veto", "ignore"])
        .default("vote"),
    )
    .requiredOption("--out <file>", "JSONL file to write")
    .action(async (campaign: string, options, command: Command) =>
      (await import("./annotate-run.js")).exportCampaign(campaign, options, storeLocation(command)),
    );

  annotate
    .command("report")
    .description("print a campaign's progress, agreement (Cohen's kappa, Krippendorff's alpha) and AI-vs-human figures")
    .argument("<campaign>", "campaign name or id")
    .option("--json", "print the whole report as JSON", false)
    .action(async (campaign: string, options, command: Command) =>
      (await import("./annotate-run.js")).report(campaign, options, storeLocation(command)),
    );
}
