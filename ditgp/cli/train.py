"""``ditgp train``: train a diffusion transformer on exact GP data (``ditgp.models.train``).

A preset supplies the data shape, the model and the optimiser numbers; flags override them.
``RUN/`` (``--out``) receives ``config.json``, ``metrics.jsonl``, ``checkpoints/``, ``final/``
(a weight bundle of the EMA network), ``summary.md`` and ``curves.png``.  The same command
with ``--resume`` continues the run from its newest complete checkpoint (``--steps`` is the
total target).  Under ``torchrun`` the command runs data parallel.
"""

from __future__ import annotations

import argparse
import sys

from ditgp.theory.choices import ARCHS, DTYPES, LOSSES, NETWORK_ATTENTIONS, POS_EMBS, T_SAMPLINGS


def register(sub: argparse._SubParsersAction) -> None:
    from ditgp.cli.common import add_spec_arguments

    p = sub.add_parser(
        "train", help="train a DiT (or the theory family) on GP data, with checkpoints and resume",
        description="Denoising score matching (ε-prediction) on exact GP sequences: AdamW, "
                    "warm-up + cosine, gradient clipping, EMA (evaluation uses it). Prints the "
                    "excess loss over the exact Bayes floor; evaluates the relative score error "
                    "against the oracle and the independent-frames baseline. Run folder: "
                    "config.json, metrics.jsonl, checkpoints/, final/ (bundle), summary.md + "
                    "curves.png.",
        epilog="torchrun: `torchrun --nproc_per_node=N -m ditgp train --spec FILE.json ...` "
               "(torchrun's parser rejects abbreviations such as --d anywhere on the line).  "
               "Preemption: SIGTERM or SIGUSR1 (what Slurm and Kubernetes send) finishes the "
               "current step, writes checkpoints/step-N (even with a --ckpt-every larger than the "
               "run) and exits with status 75; the same command with --resume continues "
               "bitwise as if uninterrupted.  SIGINT (Ctrl-C) stops at once with status 130 and "
               "no new checkpoint (--resume continues from the last periodic one).  Exit "
               "status: 0 done, 2 bad input, 75 preempted (checkpointed), 130 interrupted.")
    add_spec_arguments(p, time=False)
    p.set_defaults(H=None, d=None)  # the preset's H and d unless given
    for action in p._actions:
        if action.dest in ("H", "d"):
            action.help = ("number of frames" if action.dest == "H" else "frame dimension") \
                + " (default: the preset's)"
    g = p.add_argument_group("model and preset")
    g.add_argument("--preset", default="tiny",
                   help="named set-up: tiny (CPU, minutes), paper, long (default: tiny)")
    g.add_argument("--model", choices=ARCHS, default=None,
                   help="network: dit (the preset's) or theory (the trainable theory family)")
    g.add_argument("--init-from", default=None, metavar="BUNDLE",
                   help="initialise --model theory from a construction bundle")
    g.add_argument("--pos-emb", choices=POS_EMBS, default=None,
                   help="DiT positional embedding (default: the preset's)")
    g.add_argument("--attention", choices=NETWORK_ATTENTIONS, default=None,
                   help="DiT attention (default: the preset's)")
    g.add_argument("--max-H", type=int, default=None,
                   help="largest H the positional embedding serves (learned/circle)")
    t = p.add_argument_group("training")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None,
                        help="total optimizer steps (with --resume: the total target)")
    budget.add_argument("--minutes", type=float, default=None,
                        help="wall-clock budget instead of --steps: the step target is fixed "
                             "after timing the first steps and recorded in config.json")
    t.add_argument("--batch", type=int, default=None, help="global batch (split over processes)")
    t.add_argument("--lr", type=float, default=None, help="peak AdamW learning rate")
    t.add_argument("--warmup", type=int, default=None, help="linear warm-up steps")
    t.add_argument("--decay-steps", type=int, default=None,
                   help="cosine horizon (default: --steps of the first launch)")
    t.add_argument("--ema", type=float, default=None, help="EMA decay of the weights")
    t.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay")
    t.add_argument("--clip", type=float, default=None, help="gradient-norm clip (0: off; default 1)")
    t.add_argument("--n-train", type=int, default=None,
                   help="train on N fixed sequences (stored with the run) instead of the stream")
    t.add_argument("--t-sampling", choices=T_SAMPLINGS, default=None,
                   help="distribution of t on [t0, T] (default: the preset's)")
    t.add_argument("--loss", choices=LOSSES, default=None,
                   help="objective: eps (ε-prediction MSE, weights score errors by σ_t²) or "
                        "score (score-space DSM, weight 1/σ_t² relative to eps, normalised to "
                        "mean 1; the theory's objective) (default: the preset's)")
    t.add_argument("--seed", type=int, default=0, help="seed of the initialisation and data (default 0)")
    r = p.add_argument_group("run")
    r.add_argument("--out", required=True, metavar="RUN", help="run folder (new or empty)")
    r.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest complete checkpoint")
    r.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default: cpu)")
    r.add_argument("--dtype", choices=DTYPES, default=None,
                   help="float32 (CPU default), bf16 autocast with float32 master (CUDA "
                        "default), float64")
    r.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA)")
    r.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's; 1 is fastest on a busy machine)")
    r.add_argument("--eval-every", type=int, default=None, help="evaluation interval in steps")
    r.add_argument("--ckpt-every", type=int, default=None, help="checkpoint interval in steps")
    r.add_argument("--keep", type=int, default=None, help="checkpoints kept (default 3)")
    r.add_argument("--log-every", type=int, default=None, help="metrics line interval (default 10)")
    r.add_argument("--n-eval", type=int, default=None,
                   help="evaluation draws per t (default 256)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def resolve(args: argparse.Namespace):
    """``(spec, model_config, train_config, init_from)`` from the flags and the preset."""
    from ditgp.cli.common import spec_from_args
    from ditgp.models.config import preset, theory_config
    from ditgp.theory.errors import SpecError

    pre = preset(args.preset)
    if args.spec is None:
        args.H = pre.H if args.H is None else args.H
        args.d = pre.d if args.d is None else args.d
    elif args.H is not None or args.d is not None:
        raise SpecError("--H/--d", args.H if args.H is not None else args.d,
                        "no --H/--d with --spec FILE.json (the file gives them)")
    spec = spec_from_args(args)
    arch = args.model or pre.model.arch
    init_from = args.init_from
    if init_from is not None and arch != "theory":
        raise SpecError("--init-from", init_from, "--model theory (construction bundles "
                        "initialise the theory family)")
    if arch == "theory":
        if init_from is not None:
            from ditgp.models.theory_net import config_from_bundle

            cfg = config_from_bundle(init_from)
        else:
            cfg = theory_config(pre, spec.d)
    else:
        cfg = pre.model
        changes = {k: v for k, v in (("pos_emb", args.pos_emb), ("attention", args.attention),
                                     ("max_H", args.max_H)) if v is not None}
        if changes:
            cfg = cfg.replace(**changes)
    cfg.check_H(spec.H)
    dtype = args.dtype or ("float32" if args.device.startswith("cpu") else "bf16")
    flags = dict(
        steps=args.steps, batch=args.batch, lr=args.lr, warmup=args.warmup,
        decay_steps=args.decay_steps, ema=args.ema, weight_decay=args.weight_decay,
        clip=args.clip, n_train=args.n_train, t_sampling=args.t_sampling, loss=args.loss,
        seed=args.seed,
        device=args.device, dtype=dtype, compile=args.compile or None, minutes=args.minutes,
        eval_every=args.eval_every, ckpt_every=args.ckpt_every, keep=args.keep,
        log_every=args.log_every, n_eval=args.n_eval, threads=args.threads)
    # the preset's numbers, with those the flags give (None: flag not given)
    tc = pre.train.replace(**{k: v for k, v in flags.items() if v is not None})
    return spec, cfg, tc, init_from


def run(args: argparse.Namespace) -> int:
    from ditgp.models.train import EXIT_PREEMPTED, Preempted, train

    spec, cfg, tc, init_from = resolve(args)

    def notify(msg: str) -> None:
        print(f"ditgp train: {msg}", file=sys.stderr)

    try:
        res = train(spec, cfg, tc, args.out, resume=args.resume, init_from=init_from,
                    preset=args.preset, quiet=args.quiet, notify=notify)
    except Preempted as stop:  # every rank: checkpoint written, the run resumes bitwise
        notify(str(stop))
        return EXIT_PREEMPTED
    if not res.final:  # not rank 0 of a torchrun job
        return 0
    f = res.final
    print(f"run        {res.out} ({res.steps} steps; resumed from {res.start_step})"
          if res.start_step else f"run        {res.out} ({res.steps} steps)")
    print(f"model      {cfg.arch} D={cfg.width} L={cfg.depth} heads={cfg.heads}, "
          f"{res.params} parameters; spec {spec.describe()}")
    if "loss" in f:
        print(f"loss       {f['loss']:.5f}  floor {f['floor']:.5f}  excess {f['excess']:.3e}")
    ev = res.evaluation
    if ev and "model_mean_band" in ev:
        lo, hi = ev["band"]
        verdict = "beats" if ev["beats_baseline_band"] else "does NOT beat"
        print(f"score err  mean on t∈[{lo:g},{hi:g}]: model {ev['model_mean_band']:.4f} vs "
              f"independent frames {ev['baseline_mean_band']:.4f} ({verdict} it at every grid t)")
    print(f"bundle     {res.bundle}")
    print(f"report     {res.out / 'summary.md'}")
    return 0
