"""Fit the answerability gate's weights on development data and show what each threshold would do.

Input: reports of ``needle eval-answers --output FILE`` run with the gate off
(``NEEDLE_ANSWERABILITY_THRESHOLD=0``), so every question was answered and its evidence recorded. Use
development data only (``../shared/eval/answers/`` and ``tests/data/handbook_answers_dev.jsonl``); the
handbook test set is for reporting.

    NEEDLE_ANSWERABILITY_THRESHOLD=0 needle eval-answers --dataset ../shared/eval/answers/covid-qa.json \\
        --limit 400 --output results/answers-dev/covid-qa-gate-off.json
    python scripts/calibrate_answerability.py results/answers-dev/*-gate-off.json

A question is a positive example when it is answerable and its gold source was cited (the passages did
answer it), negative when it is unanswerable; answerable questions whose source was not found are left
out of the fit (abstaining on them costs nothing) but counted in the figures. Prints the fitted weights
(to copy into ``pipelines/querying/answerability.py``) and, per threshold, each report's abstention, false
abstention and accuracy as the gate would leave them.

``--separability`` prints, per report and language, how well each recorded signal and the gate's score
rank answerable questions above unanswerable ones (ROC AUC: 1.0 separates them perfectly, 0.5 is a coin).
It is the ceiling of any threshold: abstaining on 90% of unanswerable questions while wrongly abstaining
on at most 5% of answerable ones needs an AUC near 0.95 or more.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pipelines.querying import answerability


def features(evidence: dict) -> tuple[bool, tuple[float, float]]:
    """The gate's own model choice and inputs, from a case's recorded evidence."""
    return answerability.features(
        evidence["coverage"], evidence.get("sentence_similarity"), evidence.get("character_coverage")
    )


def roc_auc(positives: list[float], negatives: list[float]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    pos, neg = np.array(positives)[:, None], np.array(negatives)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


SIGNALS = ("coverage", "sentence_similarity", "character_coverage", "score")


def print_separability(reports: dict[str, dict]) -> None:
    """ROC AUC of each signal, answerable-and-cited against unanswerable, per report and language."""
    print(f"\n{'report':<34} {'pos':>4} {'neg':>4} " + " ".join(f"{s[:10]:>10}" for s in SIGNALS))
    for name, report in reports.items():
        for language in sorted({case["language"] for case in report["cases"]}):
            cases = [case for case in report["cases"] if case["language"] == language]
            positives = [c["answerability"] for c in cases if not c["unanswerable"] and c["cited_gold"]]
            negatives = [c["answerability"] for c in cases if c["unanswerable"]]
            cells = []
            for signal in SIGNALS:
                auc = roc_auc(
                    [e[signal] for e in positives if e.get(signal) is not None],
                    [e[signal] for e in negatives if e.get(signal) is not None],
                )
                cells.append(f"{'-' if auc is None else f'{auc:.3f}':>10}")
            label = f"{name[:28]}/{language}"
            print(f"{label:<34} {len(positives):>4} {len(negatives):>4} " + " ".join(cells))


def fit_logistic(
    x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, l2: float = 0.01, steps: int = 50
) -> np.ndarray:
    """Newton's method on the weighted, L2-regularised log-loss; returns (intercept, weights...)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    weights = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ weights))
        gradient = design.T @ (sample_weight * (p - y)) + l2 * np.r_[0, weights[1:]]
        penalty = l2 * np.diag(np.r_[0, np.ones(len(weights) - 1)])
        hessian = design.T @ (design * (sample_weight * p * (1 - p))[:, None]) + penalty
        weights -= np.linalg.solve(hessian, gradient)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reports", nargs="+", help="eval-answers reports, run with the gate off")
    parser.add_argument("--thresholds", default="0.2,0.3,0.4,0.5,0.6,0.7,0.8")
    parser.add_argument("--separability", action="store_true", help="print each signal's ROC AUC and stop")
    args = parser.parse_args()
    reports = {Path(path).stem: json.loads(Path(path).read_text(encoding="utf-8")) for path in args.reports}
    if args.separability:
        print_separability(reports)
        return

    fitted: dict[bool, list[float]] = {}
    for with_meaning in (True, False):
        rows, labels, sample_weights = [], [], []
        for report in reports.values():
            start = len(rows)
            for case in report["cases"]:
                case_with_meaning, values = features(case["answerability"])
                if case_with_meaning != with_meaning:
                    continue
                if case["unanswerable"]:
                    label = 0.0
                elif case["cited_gold"]:
                    label = 1.0
                else:
                    continue
                rows.append(values)
                labels.append(label)
            # Each report weighs the same in the fit, so 25 handbook questions are not drowned by 250
            # encyclopaedia questions worded like their paragraphs.
            sample_weights.extend([1 / max(1, len(rows) - start)] * (len(rows) - start))
        name = "WEIGHTS_WITH_MEANING" if with_meaning else "WEIGHTS_TERMS_ONLY"
        if not rows:
            print(f"{name}: no examples; keeping {getattr(answerability, name)}")
            fitted[with_meaning] = list(getattr(answerability, name))
            continue
        weights = fit_logistic(np.array(rows), np.array(labels), np.array(sample_weights) * len(rows) / 2)
        fitted[with_meaning] = [round(float(w), 2) for w in weights]
        print(f"{name} = {tuple(fitted[with_meaning])}  ({len(rows)} examples, {int(sum(labels))} positive)")

    print(f"\n{'report':<34} {'t':>4} {'acc':>6} {'acc-off':>7} {'abstain':>8} {'false-ab':>8}")
    for threshold in (float(t) for t in args.thresholds.split(",")):
        for name, report in reports.items():
            for language in sorted({case["language"] for case in report["cases"]}):
                cases = [case for case in report["cases"] if case["language"] == language]
                answerable = [case for case in cases if not case["unanswerable"]]
                unanswerable = [case for case in cases if case["unanswerable"]]

                def passes(case: dict, threshold: float = threshold) -> bool:
                    with_meaning, values = features(case["answerability"])
                    return answerability.logistic(fitted[with_meaning], values) >= threshold

                accuracy = sum(1 for c in answerable if c["correct"] and passes(c)) / max(1, len(answerable))
                before = sum(1 for c in answerable if c["correct"]) / max(1, len(answerable))
                abstain = sum(1 for c in unanswerable if not passes(c)) / max(1, len(unanswerable))
                false = sum(1 for c in answerable if not passes(c)) / max(1, len(answerable))
                label = f"{name[:28]}/{language}"
                figures = f"{accuracy:>6.3f} {before:>7.3f} {abstain:>8.3f} {false:>8.3f}"
                print(f"{label:<34} {threshold:>4} {figures}")


if __name__ == "__main__":
    main()
