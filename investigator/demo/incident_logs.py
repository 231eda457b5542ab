"""What each demo incident printed, per host, as CloudWatch would hold it.

Scripts use seed.render_log's format: `@+S ` advances the clock S seconds, `{t}` is the
sagemaker-training-toolkit time stamp, `{iso}`/`{tf}`/`{date}` other common stamps. Texts follow
the incidents behind examples/ and the public shapes of the tools that print them (the
sagemaker-training-toolkit, torch, TensorFlow, bash, apex, gsplat). One event per line, as the
SageMaker log driver ships them.
"""

# Log lines keep their real length: wrapping them would change what the classifier sees.
# ruff: noqa: E501

from __future__ import annotations

import json


def toolkit_head(*, framework: str, python: str, program: str, hps: dict[str, str],
                 channels: dict[str, str], hosts: int = 1, current: int = 1,
                 instance: str = "ml.g5.xlarge", gpus: int = 1) -> str:
    """The sagemaker-training-toolkit preamble of a framework (DLC) container."""
    host_list = json.dumps([f"algo-{i}" for i in range(1, hosts + 1)])
    args = " ".join(f"--{k} {v}" for k, v in sorted(hps.items()))
    env_lines = [
        f'    "channel_input_dirs": {json.dumps({c: f"/opt/ml/input/data/{c}" for c in channels})},',
        f'    "current_host": "algo-{current}",',
        f'    "current_instance_type": "{instance}",',
        f'    "hosts": {host_list},',
        f'    "hyperparameters": {json.dumps(hps, sort_keys=True)},',
        f'    "num_gpus": {gpus},',
        f'    "user_entry_point": "{program}"',
    ]
    return "\n".join([
        "@+0 bash: cannot set terminal process group (-1): Inappropriate ioctl for device",
        "bash: no job control in this shell",
        f"@+2 {{t}} sagemaker-training-toolkit INFO     Imported framework {framework}",
        "{t} sagemaker-training-toolkit INFO     No Neurons detected (normal if no neurons installed)",
        f"{{t}} {framework.split('.')[0]} INFO     Block until all host DNS lookups succeed.",
        f"{{t}} {framework.split('.')[0]} INFO     Invoking user training script.",
        "@+1 {t} sagemaker-training-toolkit INFO     Invoking user script",
        "Training Env:",
        "{",
        *env_lines,
        "}",
        "Environment variables:",
        f"SM_HOSTS={host_list}",
        "SM_NETWORK_INTERFACE_NAME=eth0",
        f"SM_HPS={json.dumps(hps, sort_keys=True)}",
        f"SM_USER_ENTRY_POINT={program}",
        f"SM_NUM_GPUS={gpus}",
        "Invoking script with the following command:",
        f"{python} {program} {args}".rstrip(),
    ])


def toolkit_command(python: str, program: str, hps: dict[str, str]) -> str:
    args = " ".join(f"--{k} {v}" for k, v in sorted(hps.items()))
    return f"{python} {program} {args}".rstrip()


def toolkit_fail(code: int, message: str, command: str) -> str:
    return "\n".join([
        "@+1 {t} sagemaker-training-toolkit INFO     Waiting for the process to finish and give "
        "a return code.",
        "{t} sagemaker-training-toolkit INFO     Done waiting for a return code. Received "
        f"{code} from exiting process.",
        "{t} sagemaker-training-toolkit ERROR    Reporting training FAILURE",
        "{t} sagemaker-training-toolkit ERROR    ExecuteUserScriptError:",
        f"ExitCode {code}",
        f'ErrorMessage "{message}"',
        f'Command "{command}"',
        f"{{t}} sagemaker-training-toolkit ERROR    Encountered exit_code {code}",
    ])


def toolkit_reason(code: int, message: str, command: str) -> str:
    """FailureReason of a toolkit job that exited non-zero (observed shape, see
    docs/aws-behaviours.md, "SageMaker job status and FailureReason")."""
    return (f'AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nErrorMessage "{message}"'
            f'\nCommand "{command}", exit code: {code}')[:1024]


def toolkit_success() -> str:
    return "\n".join([
        "@+1 {t} sagemaker-training-toolkit INFO     Waiting for the process to finish and give "
        "a return code.",
        "{t} sagemaker-training-toolkit INFO     Done waiting for a return code. Received 0 "
        "from exiting process.",
        "{t} sagemaker-training-toolkit INFO     Reporting training SUCCESS",
    ])


# --------------------------------------------------------------------------- seed 000: apex

APEX_SKIPPED = r"""
@+0 ==========================================================
SeedVR2 training container (image seedvr2-train:2025.01.12, run.sh rev 3f9c2e1)
==========================================================
[1/8] Checking GPU...
@+1       NVIDIA A10G, 23028 MiB, driver 550.127.05, CUDA 12.4
[2/8] Activating Python environment /opt/conda (python 3.10.14, torch 2.4.1+cu124)...
      Done.
[3/8] Installing Python requirements...
@+38 Successfully installed accelerate-1.2.1 diffusers-0.32.1 einops-0.8.0 omegaconf-2.3.0 rotary-embedding-torch-0.8.6 transformers-4.47.1
WARNING: Running pip as the 'root' user can result in broken permissions and conflicting behaviour with the system package manager. It is recommended to use a virtual environment instead: https://pip.pypa.io/warnings/venv
[4/8] Installing flash-attention wheel...
@+9 Successfully installed flash_attn-2.7.2.post1
      Done.
[5/8] Patching inference scripts for correct model paths...
      Done.
[6/8] Downloading SeedVR2-3B checkpoint...
@+61 download: s3://acme-genai-models/seedvr2/seedvr2_ema_3b.pth to ../ckpts/seedvr2_ema_3b.pth
@+4 download: s3://acme-genai-models/seedvr2/ema_vae.pth to ../ckpts/ema_vae.pth
[7/8] Syncing training clips from /opt/ml/input/data/train...
@+2       1,284 clips (12.4 GiB) ready
[8/8] Launching training: python projects/train_seedvr2.py --config configs_3b/main.yaml --lr 5e-6 --max_steps 20000
@+7 Warning:  multi_tensor_applier fused unscale kernel is unavailable, possibly because apex was installed without --cuda_ext --cpp_ext. Using Python fallback.  Original ImportError was:  ModuleNotFoundError("No module named 'amp_C'")
@+3 Traceback (most recent call last):
  File "/workspace/SeedVR/projects/train_seedvr2.py", line 27, in <module>
    from common.optim import build_optimizer
  File "/workspace/SeedVR/common/optim/__init__.py", line 3, in <module>
    from .clip_grad import clip_grad_norm_fused
  File "/workspace/SeedVR/common/optim/clip_grad.py", line 8, in <module>
    import amp_C
ModuleNotFoundError: No module named 'amp_C'
@+1 run.sh: training exited with code 1
"""

# --------------------------------------------------------------------------- seed 001: flash_attn

F5_HPS = {"batch_size_per_gpu": "3200", "dataset_name": "de_voices", "epochs": "20",
          "exp_name": "F5TTS_v1_Base", "learning_rate": "1e-05"}
F5_PY = "/opt/conda/bin/python3.11"
F5_PROGRAM = "finetune_cli.py"
FLASH_SO = "/opt/conda/lib/python3.11/site-packages/flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so"
FLASH_SYMBOL = "_ZN3c105ErrorC2ENS_14SourceLocationESs"
FLASH_ERROR = f"ImportError: {FLASH_SO}: undefined symbol: {FLASH_SYMBOL}"


def flash_attn_abi() -> str:
    head = toolkit_head(framework="sagemaker_pytorch_container.training", python=F5_PY,
                        program=F5_PROGRAM, hps=F5_HPS, channels={"train": ""})
    body = rf"""
@+3 🔍 Environment Detection:
   Python: 3.11 (expected)
   CUDA: 12.4 (expected)
   PyTorch: 2.4.1+cu124
   PyTorch CUDA: 12.4
⚡ Installing CUDA 12.x + Python 3.11 compatible flash_attn...
Collecting flash-attn==2.8.0.post2
  Downloading https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.0.post2/flash_attn-2.8.0.post2+cu12torch2.6cxx11abiFALSE-cp311-cp311-linux_x86_64.whl (256.4 MB)
@+14 Installing collected packages: flash-attn
Successfully installed flash-attn-2.8.0.post2
✅ flash_attn installation completed successfully
❌ flash_attn installed but import failed: {FLASH_SO}: undefined symbol: {FLASH_SYMBOL}
@+2 Loading vocab from /opt/ml/input/data/train/vocab.txt (2545 tokens)
Traceback (most recent call last):
  File "/opt/ml/code/finetune_cli.py", line 14, in <module>
    from f5_tts.model import CFM, DiT, Trainer, UNetT
  File "/opt/conda/lib/python3.11/site-packages/f5_tts/model/__init__.py", line 3, in <module>
    from f5_tts.model.backbones.dit import DiT
  File "/opt/conda/lib/python3.11/site-packages/f5_tts/model/backbones/dit.py", line 20, in <module>
    from f5_tts.model.modules import (
  File "/opt/conda/lib/python3.11/site-packages/f5_tts/model/modules.py", line 26, in <module>
    from flash_attn import flash_attn_varlen_func
  File "/opt/conda/lib/python3.11/site-packages/flash_attn/__init__.py", line 3, in <module>
    from flash_attn.flash_attn_interface import (
  File "/opt/conda/lib/python3.11/site-packages/flash_attn/flash_attn_interface.py", line 15, in <module>
    import flash_attn_2_cuda as flash_attn_gpu
{FLASH_ERROR}
"""
    tail = toolkit_fail(1, FLASH_ERROR, toolkit_command(F5_PY, F5_PROGRAM, F5_HPS))
    return f"{head}\n{body.strip()}\n{tail}"


# --------------------------------------------------------------------------- seed 001: stale image

STALE_IMAGE = r"""
@+0 🚀 Model cache warm-up starting (worker build 2025.07.28-4e1a9d2)
   cache dir: /tmp/models   bucket: s3://acme-voice-models/f5-tts/
🔍 Environment Detection:
   Python: 3.11 (expected)
   PyTorch: 2.4.1+cu124
🔍 Available s3_utils functions: ['ClientError', 'NoCredentialsError', 'download_from_s3', 'upload_to_s3']
❌ S3 utils import failed: cannot import name 'sync_models_from_s3' from 's3_utils' (/app/s3_utils.py)
Traceback (most recent call last):
  File "/app/model_cache_init.py", line 149, in <module>
    from s3_utils import sync_models_from_s3
ImportError: cannot import name 'sync_models_from_s3' from 's3_utils' (/app/s3_utils.py)
"""

# --------------------------------------------------------------------------- seed 002: cusparseLt

CUSPARSELT_MISSING = r"""
@+0 [{iso}] Nexis trainer entrypoint starting (pid 1, image nexis-trainer:2025.09.12)
[{iso}] Base image: nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04
@+1 [{iso}] nvidia-smi: NVIDIA A10G, 23028 MiB, driver 570.133.20, CUDA 12.8
[{iso}] Validating Python dependencies (validate_dependencies.sh)...
@+2 Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/opt/venv/lib/python3.11/site-packages/torch/__init__.py", line 405, in <module>
    _load_global_deps()
  File "/opt/venv/lib/python3.11/site-packages/torch/__init__.py", line 363, in _load_global_deps
    raise err
  File "/opt/venv/lib/python3.11/site-packages/torch/__init__.py", line 321, in _load_global_deps
    ctypes.CDLL(global_deps_lib_path, mode=ctypes.RTLD_GLOBAL)
  File "/usr/lib/python3.11/ctypes/__init__.py", line 376, in __init__
    self._handle = _dlopen(self._name, mode)
                   ^^^^^^^^^^^^^^^^^^^^^^^^^
OSError: libcusparseLt.so.0: cannot open shared object file: No such file or directory
[{iso}] Dependency validation failed (exit 1): torch==2.7.1+cu128 cannot be imported; refusing to start training.
"""

# --------------------------------------------------------------------------- seed 002: CRLF

CRLF_ENTRYPOINT = r"""
@+0 [{iso}] Nexis trainer entrypoint starting (pid 1, image nexis-trainer:2025.09.14)
@+1 [{iso}] nvidia-smi: NVIDIA A10G, 23028 MiB, driver 570.133.20, CUDA 12.8
[{iso}] GPU present; CUDA checks enabled
[{iso}] Hyperparameters: /opt/ml/input/config/hyperparameters.json
[{iso}] Starting LoRA training: /home/comfyuser/scripts/train_lora.sh --config /opt/ml/input/config/hyperparameters.json
/home/comfyuser/entrypoint.sh: line 87: /home/comfyuser/scripts/train_lora.sh: /bin/bash^M: bad interpreter: No such file or directory
[{iso}] Training exited with status 126
[{iso}] Signal forwarding: no service manager running; exiting 126
"""

# --------------------------------------------------------------------------- seed 003: CPU-only TF

CPU_TENSORFLOW = r"""
@+0
================
== TensorFlow ==
================

NVIDIA Release 24.02-tf2 (build 83838823)
TensorFlow Version 2.15.0
Container image Copyright (c) 2024, NVIDIA CORPORATION & AFFILIATES. All rights reserved.
@+4 Using Python 3.10.12 environment at /workspace/.venv-tf
Resolved 87 packages in 1.21s
@+19 Installed 14 packages in 2.31s
 + keras==3.3.3
 + ml-dtypes==0.3.2
 + tensorboard==2.16.2
 + tensorflow==2.16.1
 + tensorflow-hub==0.16.1
 + tensorflow-io-gcs-filesystem==0.37.1
@+3 {date} [INFO] imageworks.apps.judge_vision: Stage 1 (deterministic IQA) starting: 4812 images from /opt/ml/input/data/images
{tf}: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
{tf}: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
@+1 {tf}: W tensorflow/core/common_runtime/gpu/gpu_device.cc:2251] Cannot dlopen some GPU libraries. Please make sure the missing libraries mentioned above are installed properly if you would like to use GPU. Follow the guide at https://www.tensorflow.org/install/gpu for how to download and setup the required libraries for your platform.
Skipping registering GPU devices...
{date} [INFO] imageworks.libs.vision.aesthetic_models: TensorFlow 2.16.1 (built with CUDA: False)
{date} [WARNING] imageworks.libs.vision.aesthetic_models: TensorFlow GPU device list is empty; using CPU execution.
@+10 [tf-stage1][diag] nvidia-smi apps: <no output>
[tf-stage1][diag] docker ps: <container running>
@+3600 {date} [INFO] imageworks.apps.judge_vision: NIMA/MUSIQ scored 925/4812 images (0.26 img/s)
[tf-stage1][diag] nvidia-smi apps: <no output>
@+3600 {date} [INFO] imageworks.apps.judge_vision: NIMA/MUSIQ scored 1851/4812 images (0.26 img/s)
@+3600 {date} [INFO] imageworks.apps.judge_vision: NIMA/MUSIQ scored 2779/4812 images (0.26 img/s)
@+3600 {date} [INFO] imageworks.apps.judge_vision: NIMA/MUSIQ scored 3702/4812 images (0.26 img/s)
@+3600 {date} [INFO] imageworks.apps.judge_vision: NIMA/MUSIQ scored 4630/4812 images (0.26 img/s)
@+702 {date} [INFO] imageworks.apps.judge_vision: Stage 1 complete: 4812 images scored in 5h 11m 42s
{date} [INFO] imageworks.apps.judge_vision: wrote /opt/ml/model/iqa_scores.parquet (4812 rows)
"""

# --------------------------------------------------------------------------- seed 004: 3DGS on T4

GSPLAT_HPS = {"densify_until_iter": "15000", "log_interval": "100", "max_iterations": "30000",
              "sh_degree": "3", "target_psnr": "30.0"}

GSPLAT_NO_KERNEL = r"""
@+0 🚀 Spaceport 3DGS production trainer (train_gaussian_production.py, build-20250620-a41c9e2)
📋 Hyperparameters: {"densify_until_iter": "15000", "log_interval": "100", "max_iterations": "30000", "sh_degree": "3", "target_psnr": "30.0"}
@+2 🖥️  Device: cuda:0 (Tesla T4, compute capability 7.5, 14.6 GiB)
   torch 2.3.1+cu121 | gsplat 1.4.0 | CUDA runtime 12.1
🔧 gsplat CUDA kernels: prebuilt in CI (TORCH_CUDA_ARCH_LIST="8.0;8.6;8.9;9.0")
📁 Input: /opt/ml/input/data/training/sparse/0 (cameras.bin, images.bin, points3D.bin)
@+9 ✅ Loaded COLMAP reconstruction: 214 cameras, 214 images, 182,944 points
📐 Downsampling images to 1600 px max side
@+21 🎯 Initialised 182,944 Gaussians from SfM points (sh_degree=3)
🏋️ Starting training: 30000 iterations, densify until 15000
@+1 Traceback (most recent call last):
  File "/opt/ml/code/train_gaussian_production.py", line 612, in <module>
    main()
  File "/opt/ml/code/train_gaussian_production.py", line 598, in main
    trainer.train()
  File "/opt/ml/code/train_gaussian_production.py", line 431, in train
    renders, alphas, info = rasterization(
                            ^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.10/dist-packages/gsplat/rendering.py", line 349, in rasterization
    proj_results = fully_fused_projection(
                   ^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.10/dist-packages/gsplat/cuda/_wrapper.py", line 308, in fully_fused_projection
    return _FullyFusedProjection.apply(
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.10/dist-packages/torch/autograd/function.py", line 598, in apply
    return super().apply(*args, **kwargs)  # type: ignore[misc]
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.10/dist-packages/gsplat/cuda/_wrapper.py", line 814, in forward
    radii, means2d, depths, conics, compensations = _make_lazy_cuda_func(
                                                    ^^^^^^^^^^^^^^^^^^^^^
  File "/usr/local/lib/python3.10/dist-packages/gsplat/cuda/_wrapper.py", line 34, in call_cuda
    return getattr(_C, name)(*args, **kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
RuntimeError: CUDA error: no kernel image is available for execution on the device
CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.
For debugging consider passing CUDA_LAUNCH_BLOCKING=1
Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.

❌ Training failed after 0 iterations: CUDA error: no kernel image is available for execution on the device
"""

SFM_COLMAP = r"""
@+0 🚀 Spaceport SfM processing (COLMAP 3.9.1, 16 threads)
📁 Input: /opt/ml/processing/input/images (214 images)
@+12 ==============================================================================
Feature extraction
==============================================================================
@+95 Elapsed time: 1.582 [minutes]
==============================================================================
Exhaustive feature matching
==============================================================================
@+188 Elapsed time: 3.131 [minutes]
==============================================================================
Global bundle adjustment
==============================================================================
@+160 Registered images: 214 / 214, points: 182944
✅ SfM complete: sparse/0 written to /opt/ml/processing/output (52.55 MB)
"""

# --------------------------------------------------------------------------- capacity / timeout

RECSYS_HPS = {"batch-size": "8192", "embedding-dim": "256", "epochs": "8", "lr": "0.002"}


def recsys_timeout(host: int) -> str:
    head = toolkit_head(framework="sagemaker_pytorch_container.training",
                        python="/opt/conda/bin/python3.11", program="train_two_tower.py",
                        hps=RECSYS_HPS, channels={"train": "", "validation": ""}, hosts=2,
                        current=host, instance="ml.g5.12xlarge", gpus=4)
    rank0 = host == 1
    lines = [
        "@+4 {date},112 torch.distributed.run: [WARNING] Setting OMP_NUM_THREADS environment "
        "variable for each process to be 1 in default, to avoid your system being overloaded.",
        f"@+9 [rank{(host - 1) * 4}]: Loaded 412,338,190 interactions from 2,048 parquet shards",
    ]
    for epoch, seconds in ((1, 6480), (2, 6470)):
        if rank0:
            lines += [f"@+{seconds / 2:.0f} Epoch {epoch}/8 step 25000/50340 loss 0.4127",
                      f"@+{seconds / 2:.0f} Epoch {epoch}/8 done: train_loss 0.3981 "
                      f"val_recall@50 0.{311 + epoch * 7} ({seconds / 3600:.1f} h)"]
        else:
            lines += [f"@+{seconds:.0f} [rank4]: epoch {epoch} shard sync ok"]
    lines += ["@+1180 Epoch 3/8 step 9400/50340 loss 0.3874" if rank0 else "@+1180 [rank4]: ok",
              "@+0.5 {date},208 torch.distributed.elastic.agent.server.api: [WARNING] Received "
              "Signals.SIGTERM death signal, shutting down workers"]
    return f"{head}\n" + "\n".join(lines)


# --------------------------------------------------------------------------- access denied

FRAUD_LOGS = r"""
@+0 [{iso}] fraud-gbm nightly: loading features from feast online store
@+31 [{iso}] ERROR redis.exceptions.ConnectionError: Error 110 connecting to feast-redis.internal:6379. Connection timed out.
"""

# --------------------------------------------------------------------------- Map: CUDA OOM

SWEEP_PY = "/opt/conda/bin/python3.10"
SWEEP_PROGRAM = "train_lora.py"
OOM_ERROR = ("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 "
             "has a total capacty of 22.05 GiB of which 1.31 GiB is free. Process 1873 has 20.73 "
             "GiB memory in use. Of the allocated memory 18.90 GiB is allocated by PyTorch, and "
             "1.44 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory "
             "is large try setting max_split_size_mb to avoid fragmentation.  See documentation "
             "for Memory Management and PYTORCH_CUDA_ALLOC_CONF")


def sweep_log(hps: dict[str, str], *, oom: bool) -> str:
    head = toolkit_head(framework="sagemaker_huggingface_pytorch_container.training",
                        python=SWEEP_PY, program=SWEEP_PROGRAM, hps=hps,
                        channels={"train": ""}, instance="ml.g5.2xlarge")
    body = [
        "@+6 Loading checkpoint shards: 100%|██████████| 4/4 [00:41<00:00, 10.32s/it]",
        "@+1 trainable params: 41,943,040 || all params: 8,072,204,288 || trainable%: 0.5196",
        f"@+2 ***** Running training *****  per_device_train_batch_size = {hps['batch-size']}, "
        f"max_seq_length = {hps['max-seq-length']}",
    ]
    if not oom:
        body += ["@+300 {'loss': 1.2841, 'grad_norm': 0.412, 'learning_rate': 0.0001, "
                 "'epoch': 0.05}"]
        return f"{head}\n" + "\n".join(body)
    body += [
        "@+9 Traceback (most recent call last):",
        '  File "/opt/ml/code/train_lora.py", line 214, in <module>',
        "    main()",
        '  File "/opt/ml/code/train_lora.py", line 207, in main',
        "    trainer.train()",
        '  File "/opt/conda/lib/python3.10/site-packages/transformers/trainer.py", line 1539, '
        "in train",
        "    return inner_training_loop(",
        '  File "/opt/conda/lib/python3.10/site-packages/transformers/trainer.py", line 1869, '
        "in _inner_training_loop",
        "    tr_loss_step = self.training_step(model, inputs)",
        '  File "/opt/conda/lib/python3.10/site-packages/torch/utils/checkpoint.py", line 288, '
        "in backward",
        "    torch.autograd.backward(outputs_with_grad, args_with_grad)",
        OOM_ERROR,
    ]
    tail = toolkit_fail(1, OOM_ERROR, toolkit_command(SWEEP_PY, SWEEP_PROGRAM, hps))
    return f"{head}\n" + "\n".join(body) + f"\n{tail}"


# --------------------------------------------------------------------------- nested: paths

INTENT_HPS = {"epochs": "4", "learning-rate": "2e-5", "model-name": "roberta-base",
              "train-file": "train.jsonl"}
INTENT_PY = "/opt/conda/bin/python3.11"
PATHS_ERROR = ("FileNotFoundError: [Errno 2] No such file or directory: "
               "'/opt/ml/input/data/train/train.jsonl'")


def intent_paths() -> str:
    head = toolkit_head(framework="sagemaker_pytorch_container.training", python=INTENT_PY,
                        program="train.py", hps=INTENT_HPS,
                        channels={"train": "", "validation": ""})
    body = rf"""
@+3 Found 4 files in /opt/ml/input/data/train: part-00000.parquet, part-00001.parquet, part-00002.parquet, part-00003.parquet
Loading training data from /opt/ml/input/data/train/train.jsonl
Traceback (most recent call last):
  File "/opt/ml/code/train.py", line 188, in <module>
    main(parse_args())
  File "/opt/ml/code/train.py", line 121, in main
    train_ds = load_jsonl(os.path.join(args.train_dir, args.train_file))
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/ml/code/data.py", line 17, in load_jsonl
    with open(path, encoding="utf-8") as fh:
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
{PATHS_ERROR}
"""
    tail = toolkit_fail(1, PATHS_ERROR, toolkit_command(INTENT_PY, "train.py", INTENT_HPS))
    return f"{head}\n{body.strip()}\n{tail}"


# --------------------------------------------------------------------------- retry: argparse

CHURN_HPS = {"batch-size": "512.0", "epochs": "20", "lr": "0.001"}
CHURN_PY = "/opt/conda/bin/python3.11"
ARGPARSE_USAGE = ("usage: train.py [-h] [--epochs EPOCHS] [--batch-size BATCH_SIZE] [--lr LR] "
                  "[--model-dir MODEL_DIR] [--train TRAIN]")
ARGPARSE_ERROR = "train.py: error: argument --batch-size: invalid int value: '512.0'"


def churn_argparse() -> str:
    head = toolkit_head(framework="sagemaker_pytorch_container.training", python=CHURN_PY,
                        program="train.py", hps=CHURN_HPS, channels={"train": ""})
    tail = toolkit_fail(2, f"{ARGPARSE_USAGE}\n{ARGPARSE_ERROR}",
                        toolkit_command(CHURN_PY, "train.py", CHURN_HPS))
    return f"{head}\n@+2 {ARGPARSE_USAGE}\n{ARGPARSE_ERROR}\n{tail}"


# --------------------------------------------------------------------------- healthy

RANKER_HPS = {"batch-size": "128", "epochs": "3", "lr": "3e-05", "model-name": "bge-reranker-base"}


def healthy_train() -> str:
    head = toolkit_head(framework="sagemaker_pytorch_container.training",
                        python="/opt/conda/bin/python3.11", program="train_ranker.py",
                        hps=RANKER_HPS, channels={"train": "", "validation": ""},
                        instance="ml.g5.2xlarge")
    body = r"""
@+4 WARNING: Running pip as the 'root' user can result in broken permissions and conflicting behaviour with the system package manager. It is recommended to use a virtual environment instead: https://pip.pypa.io/warnings/venv
@+5 /opt/conda/lib/python3.11/site-packages/torch/utils/data/dataloader.py:558: UserWarning: This DataLoader will create 8 worker processes in total. Our suggested max number of worker in current system is 4, which is smaller than what this DataLoader is going to create. Please be aware that excessive worker creation might get DataLoader running slow or even freeze, lower the worker number to avoid potential slowness/freeze if necessary.
  warnings.warn(_create_warning_msg(
huggingface/tokenizers: The current process just got forked, after parallelism has already been used. Disabling parallelism to avoid deadlocks...
To disable this warning, you can either:
	- Avoid using `tokenizers` before the fork if possible
	- Explicitly set the environment variable TOKENIZERS_PARALLELISM=(true | false)
@+2 auto_find_batch_size: batch size 256 does not fit in GPU memory (CUDA out of memory), retrying with 128
@+610 Epoch 1/3: train_loss=0.5213 val_ndcg@10=0.6841
@+605 Epoch 2/3: train_loss=0.4472 val_ndcg@10=0.7012
@+607 Epoch 3/3: train_loss=0.4118 val_ndcg@10=0.7065
Saved model to /opt/ml/model (438.2 MB)
"""
    return f"{head}\n{body.strip()}\n{toolkit_success()}"


HEALTHY_PREPROCESS = r"""
@+0 [{iso}] ranker-preprocess: reading clicks for 2025-10-27
@+141 [{iso}] wrote 3,412,886 training pairs to /opt/ml/processing/output/train (12 shards)
[{iso}] wrote 120,000 validation pairs to /opt/ml/processing/output/validation
"""
