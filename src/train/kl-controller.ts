/**
 * The coefficient of PPO's KL penalty, fixed or adapted toward a target KL.
 *
 * The adaptive rule is Ziegler et al. 2019 ("Fine-Tuning Language Models from
 * Human Preferences"), as TRL ≤ 0.11 implements it (`AdaptiveKLController`):
 *
 *   e = clip(KL / target − 1, −0.2, 0.2),   coef ← coef · (1 + e · nSteps / horizon)
 *
 * where KL is the batch's mean per-sequence KL (`objective/kl`) and nSteps the
 * number of episodes (sequences) in that batch. To resume a run, construct it
 * with the saved `value` as `initKlCoef`.
 */

export interface KLController {
  /** The coefficient to use for the next batch. */
  readonly value: number;
  /** Feed the KL measured on a batch of `nSteps` episodes. */
  update(currentKl: number, nSteps: number): void;
}

/** A constant coefficient (TRL's current default is 0.05). `update` does nothing. */
export class FixedKLController implements KLController {
  readonly #value: number;

  constructor(coef: number) {
    if (!(Number.isFinite(coef) && coef >= 0)) throw new Error(`FixedKLController: coef must be a finite number ≥ 0, got ${coef}`);
    this.#value = coef;
  }

  get value(): number {
    return this.#value;
  }

  update(_currentKl: number, _nSteps: number): void {}
}

export type AdaptiveKLOptions = {
  /** Starting coefficient (TRL ≤ 0.11: 0.2). */
  initKlCoef?: number;
  /** Target KL in nats per sequence (6). */
  target?: number;
  /** Episodes over which a maximal error changes the coefficient by about 20% (10000). */
  horizon?: number;
};

/** Proportional control of the coefficient toward a target KL (Ziegler et al.; TRL ≤ 0.11). */
export class AdaptiveKLController implements KLController {
  #value: number;
  readonly target: number;
  readonly horizon: number;

  constructor({ initKlCoef = 0.2, target = 6, horizon = 10000 }: AdaptiveKLOptions = {}) {
    if (!(Number.isFinite(initKlCoef) && initKlCoef >= 0))
      throw new Error(`AdaptiveKLController: initKlCoef must be ≥ 0, got ${initKlCoef}`);
    if (!(Number.isFinite(target) && target > 0)) throw new Error(`AdaptiveKLController: target must be > 0, got ${target}`);
    if (!(Number.isFinite(horizon) && horizon > 0)) throw new Error(`AdaptiveKLController: horizon must be > 0, got ${horizon}`);
    this.#value = initKlCoef;
    this.target = target;
    this.horizon = horizon;
  }

  get value(): number {
    return this.#value;
  }

  update(currentKl: number, nSteps: number): void {
    if (!Number.isFinite(currentKl)) throw new Error(`AdaptiveKLController.update: the measured KL is ${currentKl}`);
    if (!(Number.isFinite(nSteps) && nSteps >= 0)) throw new Error(`AdaptiveKLController.update: nSteps must be ≥ 0, got ${nSteps}`);
    const error = Math.min(0.2, Math.max(-0.2, currentKl / this.target - 1));
    this.#value *= 1 + (error * nSteps) / this.horizon;
  }
}
