"""Run under torchrun by test_train.py: trains a tiny model with DDP (argv[2] steps, default 6)
and saves this rank's weights."""

import os
import sys
from pathlib import Path

import skimage.data
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.train_helpers import tiny_trainer  # noqa: E402

out = Path(sys.argv[1])
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 6
trainer = tiny_trainer(out, skimage.data.astronaut(), steps=steps, val_every=3 if steps == 6 else 0, log_every=1)
trainer.run(progress=False)
print(f"rank {os.environ['RANK']} stopped at step {trainer.step} by {trainer.stopped_by}", flush=True)
rank = int(os.environ["RANK"])
save_file({k: v.contiguous() for k, v in trainer.net.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
import torch.distributed as dist  # noqa: E402

dist.barrier()
dist.destroy_process_group()
