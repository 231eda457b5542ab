"""Failure is detected broadly and `none` is earned (issue 10, item 1), with the real playbooks.

Each failing excerpt is a shape of failure signal seen in real logs of the ecosystems the tool
serves; none of them may come back "no failure". Each healthy excerpt is scary-looking noise
from a run that went on fine; it must stay `none`.
"""

from __future__ import annotations

import pytest

from investigator.classifier import classify, default_library
from tests.classifier.test_engine import evidence

FAILING = {
    "exception without a space after the colon": "RuntimeError:CUDA driver initialization failed",
    "lower-case exception": "2024-02-01 10:00:00 worker valueerror: could not broadcast input array",
    "exception behind a rank prefix": "[rank3]: torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970",
    "exception behind algo-1 |": "algo-1-w4x8k | KeyError: 'labels'",
    "quoted exception": "> AssertionError: expected 8 GPUs, found 4",
    "ANSI-coloured exception": "\x1b[1;31mTypeError\x1b[0m: forward() got an unexpected keyword argument 'labels'",
    "error: line": "error: RPC failed; curl 56 GnuTLS recv error (-9): Error decoding the received TLS packet.",
    "ERROR level line": "2024-02-01 10:00:00,000 - trainer - ERROR - evaluation step produced no predictions",
    "FATAL line": "FATAL: could not allocate shared memory segment",
    "fatal: line": "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
    "Killed": "Loading checkpoint shards:  67%|██████▋   | 2/3\nKilled",
    "non-zero exit code": "Process completed with exit code 2.",
    "signal": "torch.distributed.elastic.multiprocessing.api:Sending process 1234 closing signal SIGTERM\nSignal 9 (SIGKILL) received by PID 4412",
    "k8s FailedScheduling": "  Warning  FailedScheduling  12s   default-scheduler  0/6 nodes are available: 6 Insufficient nvidia.com/gpu.",
    "k8s BackOff": "  Warning  BackOff  2m (x25 over 7m)  kubelet  Back-off restarting failed container trainer in pod train-0",
    "k8s OOMKilled": "    Last State:  Terminated\n      Reason:    OOMKilled",
    "k8s Evicted": "  Warning  Evicted  3m  kubelet  The node was low on resource: ephemeral-storage.",
    "k8s DeadlineExceeded": "  Warning  DeadlineExceeded  1m  job-controller  Job was active longer than specified deadline",
    "Slurm time limit": "slurmstepd: error: *** JOB 4242 ON node12 CANCELLED AT 2024-05-01T03:00:00 DUE TO TIME LIMIT ***",
    "Slurm cancelled": "slurmstepd: error: *** STEP 4242.0 ON node12 CANCELLED AT 2024-05-01T03:00:00 ***",
    "Slurm NODE_FAIL": "4242              train  NODE_FAIL      0:0",
    "GitHub Actions time limit": "##[error]The job running on runner gpu-runner-3 has exceeded the maximum execution time of 360 minutes.",
    "GitLab time limit": "ERROR: Job failed: execution took longer than 3h0m0s seconds",
    "Ray job failed": "Job 'raysubmit_kd82Hs' failed\nStatus message: Job entrypoint command failed with exit code 1",
    "Ray worker died": "ray.exceptions.RayActorError: The actor died unexpectedly before finishing this task.",
    "Azure ML": "Execution failed. User process 'python' exited with status code 137.",
    "Vertex AI": "The replica workerpool0-0 exited with a non-zero status of 13.",
    "Kubeflow": "This step is in Failed state with this message: OOMKilled (exit code 137)",
    "Airflow": "[2024-05-01, 10:00:00 UTC] {taskinstance.py:1937} ERROR - Task failed with exception",
    "a crash after an ignored exception": "Exception ignored in: <function Pool.__del__ at 0x7f>\nTraceback (most recent call last):\nAttributeError: 'NoneType' object has no attribute 'close'\n"
    + "step 10 loss 1.2\n" * 15
    + "Traceback (most recent call last):\n  File \"train.py\", line 9\nKeyError: 'labels'",
    "a crash before an atexit handler raised": "Traceback (most recent call last):\n  File \"train.py\", line 9\nKeyError: 'labels'\n"
    + "Error in atexit._run_exitfuncs:\nTraceback (most recent call last):\nAttributeError: 'TeeHandler' object has no attribute 'close'",
    # a pasted line in Markdown inline code (aws/sagemaker-xgboost-container#211)
    "exception line in backticks": "`sagemaker_algorithm_toolkit.exceptions.UserError: Metric 'auc' can only be applied for classification and ranking problems`",
    "kubectl pods in Error": "NAME                   READY   STATUS   RESTARTS   AGE\ntrain-worker-0         0/1     Error    0          4h",
    "TorchScript error on the next line": "RuntimeError: \nundefined value has_torch_function_variadic:",
    "HF hub 404": "huggingface_hub.utils._errors.EntryNotFoundError: 404 Client Error. (Request ID: Root=1-65)",
    "registry 401": 'Error response from daemon: Head "https://123.dkr.ecr.us-east-1.amazonaws.com/v2/train/manifests/latest": unauthorized: authentication required',
    "a failure after a c10d warning record": "[W socket.cpp:601] [c10d] The client socket has failed to connect to [master-0]:29500 (errno: 111 - Connection refused).\ntorch.distributed.DistNetworkError: Connection reset by peer",
    "registry 500": "failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/: 500 Internal Server Error",
    # a success marker clears only what came before it: a crash after a checkpoint save is live
    "a crash after the model was saved": "Saving model checkpoint to out/checkpoint-500\nModel weights saved in out/checkpoint-500/model.safetensors\n"
    + "RuntimeError: CUDA error: an illegal memory access was encountered",
    "Argo workflow phase in logfmt": 'time="2020-04-28T23:11:30Z" level=info msg="Updated phase Running -> Failed" namespace=default workflow=train-q1',
    "Windows cmd.exe command not found": "'accelerate' is not recognized as an internal or external command,\noperable program or batch file.",
    "CloudFormation stack rolling back": "Creating stack named: parallelcluster-cluster1\nStatus: parallelcluster-cluster1 - ROLLBACK_IN_PROGRESS",
    # round 13: a Go CLI's logrus line, an engine's verdict line, a controller's prose phase,
    # the API server refusing a job object, TensorFlow 1.x's cuDNN check
    "logrus ERRO line": "ERRO[0000] failed to validate command args: unsupported successPolicy",
    "a FAILED: verdict line": "Instance 20211017182224640gq00ata2 Failed.\nFAILED: Failed 2021101718:ODPS-1202005:Algo Job Failed-System Error-Wait over 30min, not enough resource.",
    "a pod phase in a controller's prose": "I0711 06:44:46.498604 1403 k8s_worker_manager.py:128] Got event MODIFIED, phase Failed for pod: job-worker-0",
    "the API server refuses a job object": 'failed to submit job, err: PyTorchJob.training.kubedl.io "t1" is invalid: spec.modelVersion: Invalid value: "null": spec.modelVersion in body must be of type object: "null"',
    "a zh_CN shell's Killed": "Writing metrics: /home/u/logdir/metrics.jsonl\n已杀死",
    "TensorFlow 1.x cuDNN mismatch": "E tensorflow/stream_executor/cuda/cuda_dnn.cc:347] Loaded runtime CuDNN library: 5005 (compatibility version 5000) but source was compiled with 5103 (compatibility version 5100).",
}

HEALTHY = {
    "pip resolver notice": "ERROR: pip's dependency resolver does not currently take into account all the packages that are installed. This behaviour is the source of the following dependency conflicts.\ntorchvision 0.16.0 requires torch==2.1.0, but you have torch 2.1.2 which is incompatible.",
    "handled error then success": "2024-05-01 10:00:00 ERROR failed to upload metrics, will retry\nValueError: checkpoint shard missing, falling back to full load\nReporting training SUCCESS",
    "NCCL WARN that recovered": "node1:123:456 [0] NCCL WARN Call to ibv_reg_mr failed with error Cannot allocate memory, retrying\nnode1:123:456 [0] NCCL INFO Connected all rings\n{'loss': 0.41, 'learning_rate': 1e-05, 'epoch': 0.5}",
    "deprecation spam": "FutureWarning: `resume_download` is deprecated and will be removed in version 1.0.0.\nDeprecationWarning: pkg_resources is deprecated as an API\nUserWarning: TypedStorage is deprecated",
    "TF factory spam": "E0000 00:00:1714000000.123456    1234 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been registered\nEpoch 1/10\n100/100 [==============================] - 12s - loss: 0.52",
    "git not a repository": "fatal: not a git repository (or any of the parent directories): .git\nstep 100 loss 1.23",
    "wandb transient": "wandb: Network error (TransientError), entering retry loop.\nEpoch 3: 100%|██████████| 782/782 [00:41<00:00, loss=0.112]",
    "error metric": "Top-1 error: 23.4%\nval_error: 0.118",
    "ray job retried then succeeded": "(raylet) A worker died or was killed while executing a task; retrying\nJob 'raysubmit_x1' succeeded",
    "slurm completed": "4242              train  COMPLETED      0:0",
    # two DataLoader workers' __del__ tracebacks printed at once, their lines interleaved
    # (the shape of mrdbourke/pytorch-deep-learning's transfer-learning notebook output)
    "two ignored tracebacks interleaved": "Epoch: 5 | train_loss: 0.6426 | test_acc: 0.8968\n"
    + "Exception ignored in: <function _MultiProcessingDataLoaderIter.__del__ at 0x7f5f>\n" * 2
    + "Traceback (most recent call last):\n" * 2
    + '  File "/usr/local/lib/python3.7/dist-packages/torch/utils/data/dataloader.py", line 1358, in __del__\n'
    * 2
    + "    self._shutdown_workers()\n" * 2
    + '  File "/usr/local/lib/python3.7/dist-packages/torch/utils/data/dataloader.py", line 1341, in _shutdown_workers\n'
    * 2
    + "    if w.is_alive():\n" * 2
    + '  File "/usr/lib/python3.7/multiprocessing/process.py", line 151, in is_alive\n' * 2
    + "    assert self._parent_pid == os.getpid(), 'can only test a child process'\n"
    + "AssertionError: can only test a child process\n"
    + "    assert self._parent_pid == os.getpid(), 'can only test a child process'\n"
    + "AssertionError: can only test a child process",
    # an exit handler failing after training finished (shape of wandb-allennlp's issue #10)
    "an atexit handler that raised": "Epoch 3/3 - loss: 0.21\nError in atexit._run_exitfuncs:\nTraceback (most recent call last):\n  File \"/opt/conda/lib/python3.7/site-packages/wandb/lib/redirect.py\", line 161, in _redirect\n    fp.close()\nAttributeError: 'TeeHandler' object has no attribute 'close'",
    # a family's words inside a Python warning (a ROCm run that finished; d7's hipBLASLt log)
    "a Python warning with a family's words": "/venv/lib/python3.12/site-packages/torch/nn/modules/linear.py:125: UserWarning: Attempting to use hipBLASLt on an unsupported architecture! Overriding blas backend to hipblas",
    # an optional exporter failed, the export went on (WongKinYiu/yolov7's export notebook)
    "an optional exporter failed, then the export completed": "ONNX export success, saved as ./yolov7-tiny.onnx\n"
    + "CoreML export failure: No module named 'coremltools'\nExport complete (6.95s). Visualize with https://github.com/lutzroeder/netron.",
    # DeepSpeed's launcher reports every worker's clean exit after an ERROR-level notice
    "an ERROR notice, then DeepSpeed's workers exit cleanly": "[2025-01-02 16:10:00,000] [ERROR] [config.py:120] hostfile not found, using local resources\n"
    + "[2025-01-02 16:15:21,891] [INFO] [launch.py:351:main] Process 106033 exits successfully.",
    "pip 20.2's post-install conflict check": "ERROR: albumentations 0.1.12 has requirement imgaug<0.2.7,>=0.2.5, but you'll have imgaug 0.2.9 which is incompatible.",
    # round 13: compose reporting exit code 0 at ERRO level; rootless podman's documented notice;
    # a count of failures; NCCL's teardown and SHARP fallback after an MLPerf run's success
    "compose's ERRO 0": "[+] Running 1/0\nERRO[0001] 0",
    "rootless podman's subuid notice": 'ERRO[0000] cannot find UID/GID for user jdoe: no subuid ranges found for user "jdoe" in /etc/subuid - check rootless mode in man pages.',
    "a count of failures": "PASSED: 12\nFAILED: 0",
    "NCCL teardown after an MLPerf run succeeded": "ip-0A23:469:474 [0] sharp_plugin.c:288 NCCL WARN NET/IB :SHARP coll init error: Cannot create SHArP job(-11)\n"
    + ':::MLLOG {"namespace": "", "time_ms": 1652941015614, "event_type": "INTERVAL_END", "key": "run_stop", "value": null, "metadata": {"file": "train.py", "lineno": 975, "status": "success"}}\n'
    + "ip-0A23:707:707 [6] NCCL INFO comm 0x1530244c8f00 rank 110 nranks 128 cudaDev 6 busId d00000 - Abort COMPLETE",
    "NCCL's proxy threads as peers close": "0: GPU-94:3087588:3089801 [0] proxy.cc:1458 NCCL WARN [Service thread] Accept failed Resource temporarily unavailable\n"
    + "0: GPU-94:3087588:3089801 [0] proxy.cc:1521 NCCL WARN [Proxy Service 0] Failed to execute operation Close from rank 1, retcode 3",
    "dynamo's traceback in a warning record": "W0810 13:55:08.918000 21035 torch/_dynamo/convert_frame.py:1100] Traceback (most recent call last):\n"
    + 'W0810 13:55:08.918000 21035 torch/_dynamo/convert_frame.py:1100]   File "/usr/lib/python3.10/site-packages/torch/_inductor/compile_fx.py", line 1507, in compile_fx',
    "exception ignored at interpreter exit": "Number of trials: 1 ({'TERMINATED': 1})\nException ignored in: <function ActorHandle.__del__ at 0x7f>\nTraceback (most recent call last):\n  File \"/ray/actor.py\", line 538, in __del__\nAttributeError: 'NoneType' object has no attribute 'get_global_worker'",
}


@pytest.fixture(scope="module")
def lib():
    return default_library()


@pytest.mark.parametrize("name", FAILING)
def test_failure_signals_are_never_called_healthy(lib, name):
    inv = classify(evidence(FAILING[name]), lib)
    assert inv.finding.category != "none", f"{name}: {inv.finding.rule}"
    assert inv.finding.evidence, f"{name}: no telling line cited"


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_but_scary_logs_stay_healthy(lib, name):
    inv = classify(evidence(HEALTHY[name]), lib)
    assert inv.finding.category == "none", f"{name}: {inv.finding.rule}"
