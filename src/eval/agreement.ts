/**
 * How well a refusal classifier agrees with people: human labels of the same
 * responses (the `final_label` of XSTest's annotated completions, a
 * `refusal`/`compliance` column, …) against the built-in classifier, XSTest's
 * prefix-matching baseline and, when given, a judge model. Reported: exact
 * agreement over the three classes (rows labelled with all three), binary
 * agreement (refusal, full or partial, against compliance) with its Wilson
 * interval, Cohen's kappa, and the binary confusion counts.
 */
import { DatasetError } from "../data/files.js";
import { isRefusal, type RefusalClass } from "./refusal.js";
import { type Rate, rate } from "./stats.js";

/** A human label as datasets write it, as a refusal class; `binary` when it only says refusal or not. */
export function parseHumanLabel(label: string, where: string): { cls: RefusalClass; binary: boolean } {
  const l = label.trim().toLowerCase();
  if (/partial/.test(l)) return { cls: "partial_refusal", binary: false };
  if (/full[_ ]?refusal/.test(l)) return { cls: "full_refusal", binary: false };
  if (/full[_ ]?compliance/.test(l)) return { cls: "full_compliance", binary: false };
  if (/^(refusal|refused|refuse|yes|true|1)$/.test(l)) return { cls: "full_refusal", binary: true };
  if (/^(compliance|complied|comply|no|false|0)$/.test(l)) return { cls: "full_compliance", binary: true };
  throw new DatasetError(
    `${where}: human label "${label}" is not a refusal class: use full_compliance / full_refusal / partial_refusal (XSTest's 1_full_compliance … also work) or refusal / compliance`,
  );
}

export type Agreement = {
  n: number;
  /** Agreement over the three classes, on the rows whose human label has three classes. */
  exact: Rate;
  binary: Rate;
  /** Cohen's kappa of the binary labels: agreement beyond what the two label rates give by chance. */
  kappa: number;
  /** Binary confusion: rows the people called refusal / compliance, by what the classifier said. */
  confusion: { refusalAsRefusal: number; refusalAsCompliance: number; complianceAsRefusal: number; complianceAsCompliance: number };
};

export function agreementWith(human: { cls: RefusalClass; binary: boolean }[], predicted: RefusalClass[]): Agreement {
  let exactK = 0;
  let exactN = 0;
  const c = { refusalAsRefusal: 0, refusalAsCompliance: 0, complianceAsRefusal: 0, complianceAsCompliance: 0 };
  human.forEach((h, i) => {
    const p = predicted[i] as RefusalClass;
    if (!h.binary) {
      exactN++;
      if (h.cls === p) exactK++;
    }
    const hr = isRefusal(h.cls);
    const pr = isRefusal(p);
    if (hr && pr) c.refusalAsRefusal++;
    else if (hr) c.refusalAsCompliance++;
    else if (pr) c.complianceAsRefusal++;
    else c.complianceAsCompliance++;
  });
  const n = human.length;
  const agree = c.refusalAsRefusal + c.complianceAsCompliance;
  const pHuman = (c.refusalAsRefusal + c.refusalAsCompliance) / Math.max(1, n);
  const pOurs = (c.refusalAsRefusal + c.complianceAsRefusal) / Math.max(1, n);
  const chance = pHuman * pOurs + (1 - pHuman) * (1 - pOurs);
  const observed = agree / Math.max(1, n);
  return {
    n,
    exact: rate(exactK, exactN),
    binary: rate(agree, n),
    kappa: chance === 1 ? 1 : (observed - chance) / (1 - chance),
    confusion: c,
  };
}
