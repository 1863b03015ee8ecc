"""Run under torchrun by test_train.py: trains a tiny model with DDP and saves this rank's weights."""

import os
import sys
from pathlib import Path

import skimage.data
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.train_helpers import tiny_trainer  # noqa: E402

out = Path(sys.argv[1])
trainer = tiny_trainer(out, skimage.data.astronaut(), steps=6, val_every=3)
trainer.run(progress=False)
rank = int(os.environ["RANK"])
save_file({k: v.contiguous() for k, v in trainer.net.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
import torch.distributed as dist  # noqa: E402

dist.barrier()
dist.destroy_process_group()
