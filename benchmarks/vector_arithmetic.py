"""DCGAN's latent-space arithmetic (Radford et al. 2015, arXiv 1511.06434, section 6.3.2) and latent walks, on MNIST.

Trains a narrow DCGAN briefly on real MNIST, decodes ``--samples`` latents and labels them with the shipped digit
classifier (kept when it is at least ``--confidence`` sure). Stroke thickness is measured as ink: the mean
brightness of a digit. For each digit X, the ``k`` inkiest samples form the concept "thick X" and the ``k``
faintest "thin X". For every ordered pair of digits (X, Y) it decodes

    Y = mean(thick X) - mean(thin X) + mean(thin Y)

and asks: is it still a Y (the classifier's label), and is it inky? Thickening places its ink on the scale from
the thin Ys' mean ink (0) to the thick Ys' (1). As a control, the thickness direction is replaced by a random
direction of the same length. It is run with k = 3 (the paper's choice) and k = 1 (single samples, which the
paper found unstable).

It also compares slerp and lerp walks: the classifier's confidence on the midpoints of 500 random pairs.
Figures go to benchmarks/results/: vector_arithmetic_mnist.png (rows: thick X x3 | thin X x3 | thin Y x3 | the
result | 4 latents near it) and latent_walk_mnist.png / .gif (LatentWalk's grid and animation).

    OMP_NUM_THREADS=1 python -m benchmarks.vector_arithmetic --root ../shared/data
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch
from lightning.pytorch import seed_everything
from torch import Tensor
from torchvision.utils import save_image

from benchmarks.discriminator_features import mnist_dcgan, train
from benchmarks.results import RESULTS_DIR, save_result
from lightning_gans.callbacks.latent_walk import LatentWalk, save_gif
from lightning_gans.metrics import pretrained_digit_classifier
from lightning_gans.models import DCGAN
from lightning_gans.nn import concept_vector, interpolation_path, latent_arithmetic

FIGURE_PAIRS = ((7, 3), (1, 8), (0, 2), (4, 9), (6, 5))


class Judge:
    """The digit classifier's label and confidence, and the ink of generated digits."""

    def __init__(self) -> None:
        self.classifier = pretrained_digit_classifier()

    @torch.no_grad()
    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        probabilities = torch.cat([self.classifier.logits(batch) for batch in images.split(500)]).softmax(dim=1)
        confidence, label = probabilities.max(dim=1)
        ink = images.add(1).div(2).mean(dim=(1, 2, 3))
        return label, confidence, ink


def decode(model: DCGAN, latents: Tensor) -> Tensor:
    return torch.cat([model.generate(batch) for batch in latents.split(500)])


def concepts(
    label: Tensor, confidence: Tensor, ink: Tensor, k: int, least_confidence: float
) -> dict[int, tuple[Tensor, Tensor]]:
    """For each digit with at least 2k confident samples: the indices of its k inkiest and k faintest samples."""
    chosen = {}
    for digit in range(10):
        candidates = torch.nonzero((label == digit) & (confidence >= least_confidence)).squeeze(1)
        if candidates.numel() >= 2 * k:
            by_ink = candidates[ink[candidates].argsort(descending=True)]
            chosen[digit] = (by_ink[:k], by_ink[-k:])
    return chosen


def arithmetic_trial(model: DCGAN, judge: Judge, latents: Tensor, ink: Tensor, chosen: dict, k: int) -> dict:
    """Thick X - thin X + thin Y for every ordered pair of digits, and the random-direction control."""
    random = torch.Generator().manual_seed(k)
    kept, thickening, control_kept, control_thickening = [], [], [], []
    for x, y in itertools.permutations(chosen, 2):
        (thick_x, thin_x), (thick_y, thin_y) = chosen[x], chosen[y]
        result = latent_arithmetic(latents[thick_x], latents[thin_x], latents[thin_y])
        direction = concept_vector(latents[thick_x]) - concept_vector(latents[thin_x])
        noise = torch.randn(direction.shape, generator=random)
        control = concept_vector(latents[thin_y]) + noise * direction.norm() / noise.norm()
        label, _, result_ink = judge(decode(model, torch.stack([result[0], control])))
        thin_ink, gap = ink[thin_y].mean(), ink[thick_y].mean() - ink[thin_y].mean()
        kept.append(label[0].item() == y)
        control_kept.append(label[1].item() == y)
        thickening.append(((result_ink[0] - thin_ink) / gap).item())
        control_thickening.append(((result_ink[1] - thin_ink) / gap).item())
    return {
        "pairs": len(kept),
        "still_y_percent": 100 * float(np.mean(kept)),
        "thickening_median": float(np.median(thickening)),
        "control_still_y_percent": 100 * float(np.mean(control_kept)),
        "control_thickening_median": float(np.median(control_thickening)),
    }


def arithmetic_figure(model: DCGAN, latents: Tensor, images: Tensor, chosen: dict) -> Tensor:
    rows = []
    for x, y in FIGURE_PAIRS:
        if x not in chosen or y not in chosen:
            continue
        (thick_x, thin_x), (_, thin_y) = chosen[x], chosen[y]
        nearby = latent_arithmetic(
            latents[thick_x], latents[thin_x], latents[thin_y], variations=4, generator=torch.Generator().manual_seed(0)
        )
        rows.append(torch.cat([images[thick_x], images[thin_x], images[thin_y], decode(model, nearby)]))
    return torch.cat(rows)


def midpoint_confidence(model: DCGAN, judge: Judge, pairs: int) -> dict[str, float]:
    """The classifier's mean confidence on endpoints and on slerp and lerp midpoints of random latent pairs."""
    ends = model.sample_latent(2 * pairs, generator=torch.Generator().manual_seed(2))
    figures = {"endpoints": judge(decode(model, ends))[1].mean().item()}
    for method in ("slerp", "lerp"):
        midpoints = interpolation_path(ends[:pairs], ends[pairs:], 3, method)[:, 1]
        figures[method] = judge(decode(model, midpoints))[1].mean().item()
        figures[f"{method}_midpoint_norm"] = midpoints.norm(dim=1).mean().item()
    figures["endpoint_norm"] = ends.norm(dim=1).mean().item()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that contains MNIST/raw")
    parser.add_argument("--generator-steps", type=int, default=1500, help="G updates of the DCGAN's training")
    parser.add_argument("--features", type=int, default=32, help="width of G's last and D's first hidden layer")
    parser.add_argument("--samples", type=int, default=4000, help="generated digits to choose concepts from")
    parser.add_argument("--confidence", type=float, default=0.9, help="least classifier confidence to keep a sample")
    parser.add_argument("--pairs", type=int, default=500, help="latent pairs for the slerp/lerp midpoint check")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    seed_everything(0)
    model = train(mnist_dcgan(args.features), args.root, args.generator_steps)
    minutes = (time.perf_counter() - started) / 60
    print(f"trained {args.generator_steps} G steps in {minutes:.1f} min")

    judge = Judge()
    latents = model.sample_latent(args.samples, generator=torch.Generator().manual_seed(1))
    images = decode(model, latents)
    label, confidence, ink = judge(images)
    trials = {}
    for k in (3, 1):
        chosen = concepts(label, confidence, ink, k, args.confidence)
        if len(chosen) < 2:
            raise SystemExit(f"Only {len(chosen)} digit(s) have {2 * k} confident samples: train longer.")
        trials[k] = arithmetic_trial(model, judge, latents, ink, chosen, k)
        print(f"k={k}: {trials[k]}", flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    figure = arithmetic_figure(model, latents, images, concepts(label, confidence, ink, 3, args.confidence))
    save_image(figure, RESULTS_DIR / "vector_arithmetic_mnist.png", nrow=14, normalize=True, value_range=(-1, 1))
    walk = LatentWalk(walks=8, steps=10, gif=True)
    save_image(walk.grid(model), RESULTS_DIR / "latent_walk_mnist.png")
    save_gif(walk.pending_frames, RESULTS_DIR / "latent_walk_mnist.gif", walk.frame_duration_ms)
    midpoints = midpoint_confidence(model, judge, args.pairs)
    print(f"midpoints: {midpoints}")

    confident_share = 100 * (confidence >= args.confidence).float().mean().item()
    rows = [
        f"| {k} | {t['pairs']} | {t['still_y_percent']:.0f} | {t['thickening_median']:.2f} | "
        f"{t['control_still_y_percent']:.0f} | {t['control_thickening_median']:.2f} |"
        for k, t in trials.items()
    ]
    markdown = "\n".join(
        [
            "### Latent arithmetic and walks (MNIST)",
            "",
            f"A DCGAN (width {args.features}, 32x32) trained for {args.generator_steps} generator steps on MNIST "
            f"({minutes:.1f} min on {args.threads} CPU thread(s)). Of {args.samples} samples, "
            f"{confident_share:.0f}% are labelled by the digit classifier with >= {args.confidence:.0%} "
            "confidence; per digit the k inkiest are 'thick', the k faintest 'thin'. For every ordered pair of "
            "digits (X, Y): thick X - thin X + thin Y. 'Still Y': the classifier labels the result Y. "
            "'Thickening': its ink on the scale from "
            "the thin Ys' mean (0) to the thick Ys' (1), median over pairs. "
            "Control: the thickness direction replaced by a random one of the same length.",
            "",
            "| k per concept | pairs | still Y (%) | thickening | control: still Y (%) | control: thickening |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Walks: classifier confidence on {args.pairs} random pairs' midpoints: slerp {midpoints['slerp']:.3f}, "
            f"lerp {midpoints['lerp']:.3f} (endpoints {midpoints['endpoints']:.3f}); latent norm at the midpoint: "
            f"slerp {midpoints['slerp_midpoint_norm']:.2f}, lerp {midpoints['lerp_midpoint_norm']:.2f} (endpoints "
            f"{midpoints['endpoint_norm']:.2f}).",
            "",
            "![thick X - thin X + thin Y; rows: 3 thick X, 3 thin X, 3 thin Y, the result, 4 latents near it]"
            "(benchmarks/results/vector_arithmetic_mnist.png)",
            "",
            "![8 slerp walks of 10 steps](benchmarks/results/latent_walk_mnist.png) "
            "(animated: `benchmarks/results/latent_walk_mnist.gif`)",
        ]
    )
    print(markdown)
    figures = {
        "generator_steps": args.generator_steps,
        "features": args.features,
        "training_minutes": minutes,
        "confident_percent": confident_share,
        "arithmetic": {str(k): trial for k, trial in trials.items()},
        "midpoints": midpoints,
    }
    save_result("vector_arithmetic", markdown, figures)


if __name__ == "__main__":
    main()
