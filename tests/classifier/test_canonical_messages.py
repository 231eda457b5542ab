"""Each category's canonical messages land in that category, behind the prefixes logs add.

One line per message, as the named tool prints it (the text of its documented or long-standing
error message, not a copy of one log): the wording an on-call engineer sees first. Each is
classified bare, behind an ISO timestamp, and behind mpirun's rank prefix, so a rule that only
matches its own example's layout, or a loss of the tolerant rewrite (investigator/classifier/
tolerant.py), fails here. The learned fallback is not an answer: a message must reach its
category through a rule.
"""

from __future__ import annotations

import pytest

from investigator.classifier import classify, default_library
from investigator.classifier.fallback import RULE_ID as FALLBACK_RULE
from investigator.models import CATEGORIES
from tests.classifier.test_engine import evidence

CANONICAL: dict[str, list[str]] = {
    "capacity": [
        "botocore.exceptions.ClientError: An error occurred (ResourceLimitExceeded) when calling the CreateTrainingJob operation: The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1 Instances.",
        "sagemaker.exceptions.CapacityError: Error for Training job x: Failed. Reason: CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.",
        "An error occurred (InsufficientInstanceCapacity) when calling the RunInstances operation: We currently do not have sufficient p4d.24xlarge capacity in the Availability Zone you requested (us-east-1a).",
        "The zone 'projects/p/zones/us-central1-a' does not have enough resources available to fulfill the request. '(resource type:compute)'. ZONE_RESOURCE_POOL_EXHAUSTED",
        "google.api_core.exceptions.ResourceExhausted: 429 Quota exceeded for aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus with base model: . Limit: 0.0 in region us-central1.",
        "  Warning  FailedScheduling  2m  default-scheduler  0/5 nodes are available: 5 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.",
        "Spot instance interruption notice received, the instance will be terminated in 2 minutes",
        "slurmstepd: error: *** JOB 4321 ON gpu01 CANCELLED AT 2024-03-01T10:00:00 DUE TO PREEMPTION ***",
        "botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling the DescribeTrainingJob operation (reached max retries: 4): Rate exceeded",
        "ResourceExhausted: 429 Resource has been exhausted (e.g. check quota).",
    ],
    "timeout": [
        "Failure reason: MaxRuntimeExceeded: Training job exceeded the MaxRuntimeInSeconds provided",
        "slurmstepd: error: *** JOB 1234 ON n1 CANCELLED AT 2024-01-01T00:00:00 DUE TO TIME LIMIT ***",
        "The job running on runner GitHub Actions 2 has exceeded the maximum execution time of 360 minutes.",
        "  Warning  DeadlineExceeded  1m  job-controller  Job was active longer than specified deadline",
        "ERROR: Job failed: execution took longer than 1h0m0s seconds",
        "=>> PBS: job killed: walltime 86415 exceeded limit 86400",
    ],
    "network": [
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: /bert-base-uncased/resolve/main/config.json (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution'))",
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self signed certificate in certificate chain (_ssl.c:1129)",
        'botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "https://s3.us-east-1.amazonaws.com/my-bucket/data.csv"',
        "curl: (6) Could not resolve host: github.com",
        "fatal: unable to access 'https://github.com/huggingface/transformers.git/': Could not resolve host: github.com",
        "OSError: We couldn't connect to 'https://huggingface.co' to load this file, couldn't find it in the cached files and it looks like bert-base-uncased is not the path to a directory containing a file named config.json.",
        "huggingface_hub.utils._errors.HfHubHTTPError: 502 Server Error: Bad Gateway for url: https://huggingface.co/api/models/gpt2",
        "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='files.pythonhosted.org', port=443): Read timed out.",
        "ConnectionResetError: [Errno 104] Connection reset by peer",
        "urllib.error.URLError: <urlopen error [Errno 111] Connection refused>",
        "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host huggingface.co:443 ssl:default [Connect call failed ('18.1.1.1', 443)]",
        "httpx.ConnectError: [Errno -2] Name or service not known",
    ],
    "permissions": [
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
        "botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling the CreateTrainingJob operation: User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: sagemaker:CreateTrainingJob on resource: arn:aws:sagemaker:us-east-1:123456789012:training-job/z",
        "huggingface_hub.utils._errors.GatedRepoError: 403 Client Error. (Request ID: Root=1-65) Cannot access gated repo for url https://huggingface.co/meta-llama/Llama-2-7b-hf/resolve/main/config.json.",
        "PermissionError: [Errno 13] Permission denied: '/opt/ml/model/model.pth'",
        "denied: requested access to the resource is denied",
        "google.api_core.exceptions.Forbidden: 403 POST https://storage.googleapis.com/upload/storage/v1/b/bkt/o: caller does not have storage.objects.create access to the Google Cloud Storage object.",
        "(AuthorizationFailed) The client 'x' with object id 'y' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/jobs/write' over scope '/subscriptions/s'",
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:ml:default" cannot list resource "pods" in API group "" in the namespace "ml"',
        "google.auth.exceptions.DefaultCredentialsError: Your default credentials were not found.",
        "azure.core.exceptions.ClientAuthenticationError: DefaultAzureCredential failed to retrieve a token from the included credentials.",
    ],
    "paths": [
        "FileNotFoundError: [Errno 2] No such file or directory: '/opt/ml/input/data/training/train.csv'",
        "botocore.errorfactory.NoSuchKey: An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist.",
        'ClientError: Data download failed:Failed to download data. No S3 objects found under S3 URL "s3://bucket/prefix/train" given in input data source. Please ensure that the bucket exists in the selected region (us-east-1), that objects exist under that S3 prefix, and that the role "arn:aws:iam::1:role/r" has "s3:ListBucket" permissions on bucket "bucket".',
        "OSError: Can't load tokenizer for 'my-model'. If you were trying to load it from 'https://huggingface.co/models', make sure you don't have a local directory with the same name. Otherwise, make sure 'my-model' is the correct path to a directory containing all relevant files for a BertTokenizerFast tokenizer.",
        "tensorflow.python.framework.errors_impl.NotFoundError: /data/train.tfrecord; No such file or directory",
        "IsADirectoryError: [Errno 21] Is a directory: '/opt/ml/input/data/train'",
        "Error response from daemon: manifest for 123456789012.dkr.ecr.us-east-1.amazonaws.com/train:v2 not found: manifest unknown: Requested image not found",
        "CannotPullContainerError: Error response from daemon: manifest for 1234.dkr.ecr.us-east-1.amazonaws.com/x:latest not found: manifest unknown",
        "OSError: Unable to load weights from pytorch checkpoint file for '/opt/ml/model/pytorch_model.bin' at '/opt/ml/model/pytorch_model.bin'. If you tried to load a PyTorch model from a TF 2.0 checkpoint, please set from_tf=True.",
        "FileNotFoundError: Couldn't find a dataset script at /data/my_dataset/my_dataset.py or any data file in the same directory.",
        "datasets.exceptions.DatasetNotFoundError: Dataset 'foo/bar' doesn't exist on the Hub or cannot be accessed.",
    ],
    "resources": [
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity; 13.01 GiB already allocated)",
        "RuntimeError: CUDA error: out of memory",
        "OSError: [Errno 28] No space left on device",
        "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).",
        "OSError: [Errno 24] Too many open files",
        "      Reason:       OOMKilled",
        "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 7.45 GiB for an array with shape (1000000, 1000) and data type float64",
        "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with shape[64,1024,1024] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc",
        "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 17179869184 bytes.",
        "triton.runtime.autotuner.OutOfResources: out of resource: shared memory, Required: 98304, Hardware limit: 65536. Reducing block sizes or `num_stages` may help.",
        "RuntimeError: [enforce fail at alloc_cpu.cpp:83] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate 1073741824 bytes. Error code 12 (Cannot allocate memory)",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.15 GiB of which 3.75 MiB is free.",
        "RuntimeError: HIP out of memory. Tried to allocate 2.00 GiB",
    ],
    "cuda": [
        "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx",
        "AssertionError: Torch not compiled with CUDA enabled",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "CUDA driver version is insufficient for CUDA runtime version",
        "ImportError: libcudart.so.11.0: cannot open shared object file: No such file or directory",
        "2023-01-01 00:00:00.000000: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file: No such file or directory",
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
        "RuntimeError: The NVIDIA driver on your system is too old (found version 10020). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx",
        "jaxlib.xla_extension.XlaRuntimeError: FAILED_PRECONDITION: DNN library initialization failed. Look at the errors above for more details.",
        "cudaGetDeviceCount returned 100 -> no CUDA-capable device is detected",
        "nvcc fatal   : Unsupported gpu architecture 'compute_90'",
        "RuntimeError: The detected CUDA version (12.1) mismatches the version that was used to compile PyTorch (11.7). Please make sure to use the same CUDA versions.",
        "OSError: CUDA_HOME environment variable is not set. Please set it to your CUDA install root.",
    ],
    "deps": [
        "ModuleNotFoundError: No module named 'transformers'",
        "ImportError: cannot import name 'soft_unicode' from 'markupsafe' (/usr/local/lib/python3.8/site-packages/markupsafe/__init__.py)",
        "ImportError: /usr/local/lib/python3.10/site-packages/flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: undefined symbol: _ZN3c104cuda9SetDeviceEi",
        "ERROR: Could not find a version that satisfies the requirement torch==1.13.1+cu117 (from versions: 2.0.0, 2.0.1)",
        "ERROR: Failed building wheel for flash-attn",
        "AttributeError: module 'numpy' has no attribute 'float'.",
        "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0 as it may crash.",
        "PackagesNotFoundError: The following packages are not available from current channels:",
        "ValueError: Tokenizer class LlamaTokenizer does not exist or is not currently imported.",
        "ValueError: The checkpoint you are trying to load has model type `qwen2` but Transformers does not recognize this architecture. This could be because of an issue with the checkpoint, or because your version of Transformers is out of date.",
        "ERROR: No matching distribution found for torch==2.1.0+cu118",
        "E: Package 'python3.8' has no installation candidate",
        "fatal error: Python.h: No such file or directory",
    ],
    "entrypoint": [
        "python: can't open file '/opt/ml/code/train.py': [Errno 2] No such file or directory",
        'exec: "train": executable file not found in $PATH',
        'OCI runtime create failed: container_linux.go:349: starting container process caused "exec: \\"train\\": executable file not found in $PATH": unknown',
    ],
    "platform": [
        "exec /usr/local/bin/python: exec format error",
        "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by /usr/local/lib/python3.10/site-packages/torch/lib/libtorch_cpu.so)",
        "The TensorFlow library was compiled to use AVX instructions, but these aren't available on your machine.",
        "standard_init_linux.go:228: exec user process caused: exec format error",
    ],
    "distributed": [
        "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1275, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.14.3",
        "RuntimeError: NCCL communicator was aborted on rank 1.  Original reason for failure was: [Rank 1] Watchdog caught collective operation timeout",
        "[E ProcessGroupNCCL.cpp:475] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000) ran for 1800120 milliseconds before timing out.",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:",
        "torch.distributed.DistNetworkError: The server socket has failed to listen on any local network address. The server socket has failed to bind to [::]:29500 (errno: 98 - Address already in use).",
        "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError",
        "RuntimeError: Detected mismatch between collectives on ranks. Rank 0 is running collective: CollectiveFingerPrint(OpType=ALLREDUCE), but Rank 1 is running collective: CollectiveFingerPrint(OpType=BROADCAST).",
        "[Rank 3] NCCL watchdog thread terminated with exception: NCCL error: remote process exited or there was a network error, NCCL version 2.18.1",
    ],
    "hyperparameters": [
        "train.py: error: unrecognized arguments: --epochs 10",
        "train.py: error: argument --lr: invalid float value: 'abc'",
        "ValueError: Batch size 7 must be divisible by number of devices 8",
        "omegaconf.errors.ConfigAttributeError: Key 'optimizer' is not in struct",
        "Loss is nan, stopping training",
        "lightning_fabric.utilities.exceptions.MisconfigurationException: You requested gpu: [0, 1] But your machine only has: [0]",
        "hydra.errors.ConfigCompositionException: Could not override 'trainer.gpus'. No match in config.",
    ],
    "code": [
        "TypeError: forward() got an unexpected keyword argument 'labels'",
        "KeyError: 'label'",
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x512 and 256x10)",
        "IndexError: index out of range in self",
        "NameError: name 'model' is not defined",
        "ValueError: Expected input batch_size (32) to match target batch_size (64).",
        "RuntimeError: CUDA error: device-side assert triggered",
        "../aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.",
        "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
        "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn",
    ],
    "orchestration": [
        "botocore.exceptions.ClientError: An error occurred (ValidationException) when calling the CreateTrainingJob operation: 1 validation error detected: Value 'my_job' at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        "Error: Image build failed. For more details, check log file azureml-logs/20_image_build_log.txt.",
        'The Job "train" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
        'error: error validating "job.yaml": error validating data: ValidationError(Job.spec.template.spec.containers[0]): unknown field "resource" in io.k8s.api.core.v1.Container; if you choose to ignore these errors, turn validation off with --validate=false',
    ],
}

# Noise that healthy runs print, as the named tools print it: it must stay `none` bare and
# behind the same prefixes.
CANONICAL_NOISE: list[str] = [
    "[W716 19:40:01.194933437 socket.cpp:759] [c10d] The IPv6 network addresses of (master-0, 23456) cannot be retrieved (gai error: -3 - Temporary failure in name resolution).",
    "ERROR: pip's dependency resolver does not currently take into account all the packages that are installed. This behaviour is the source of the following dependency conflicts.",
    "[W socket.cpp:601] [c10d] The client socket has failed to connect to [localhost]:29500 (errno: 99 - Cannot assign requested address).",
    "ip-10-0-0-1:123:456 [0] NCCL INFO NET/Plugin : Plugin load (libnccl-net.so) returned 2 : libnccl-net.so: cannot open shared object file: No such file or directory",
    "2023-01-01 00:00:00.000000: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libnvinfer.so.7'; dlerror: libnvinfer.so.7: cannot open shared object file: No such file or directory",
    "Some weights of the model checkpoint at bert-base-uncased were not used when initializing BertForSequenceClassification: ['cls.predictions.bias']",
    "huggingface/tokenizers: The current process just got forked, after parallelism has already been used. Disabling parallelism to avoid deadlocks...",
    "[2024-01-01 00:00:00,000] torch.distributed.run: [WARNING] Setting OMP_NUM_THREADS environment variable for each process to be 1 in default, to avoid your system being overloaded",
    "Epoch 00012: early stopping",
    "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0",
    "[2024-01-01 00:00:00,000] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768",
    "Training completed. Do not forget to share your model on huggingface.co/models =)",
    "2024-01-01 00:10:00 Completed - Training job completed",
    "2024-01-01 00:09:00,000 sagemaker-training-toolkit INFO     Reporting training SUCCESS",
    "The following values were not passed to `accelerate launch` and had defaults used instead:",
    "Detected kernel version 4.14.0, which is below the recommended minimum of 5.5.0; this can cause the process to hang. It is recommended to upgrade the kernel to the minimum version or higher.",
    "Warning: Permanently added '10.0.0.2' (ECDSA) to the list of known hosts.",
    "bash: warning: setlocale: LC_ALL: cannot change locale (en_US.UTF-8)",
    "/opt/conda/lib/python3.8/site-packages/torch/utils/data/dataloader.py:554: UserWarning: This DataLoader will create 8 worker processes in total. Our suggested max number of worker in current system is 4, which is smaller than what this DataLoader is going to create.",
    "[W ProcessGroupNCCL.cpp:1569] Rank 0 using best-guess GPU 0 to perform barrier as devices used by this process are currently unknown. This can potentially cause a hang if this rank to GPU mapping is incorrect.",
    "WARNING: Running pip as the 'root' user can result in broken permissions and conflicting behaviour with the system package manager.",
    "debconf: delaying package configuration, since apt-utils is not installed",
    "INFO:root:Retrying in 5 seconds (attempt 1/5)",
    "ip-10-0-0-1:123:456 [0] NCCL INFO NET/IB : No device found.",
    "errors: 0, warnings: 3",
    "======================== 0 failed, 12 passed in 3.21s =========================",
    "Validation loss did not improve from 0.3120",
    "WARNING:tensorflow:Early stopping conditioned on metric `val_acc` which is not available. Available metrics are: loss,accuracy",
    "wandb: WARNING Calling wandb.login() after wandb.init() has no effect.",
    "[rank0]:[W Utils.hpp:164] Warning: Environment variable NCCL_ASYNC_ERROR_HANDLING is deprecated; use TORCH_NCCL_ASYNC_ERROR_HANDLING instead (function getCvarInt)",
    "2024-01-01 00:00:00.000000: I tensorflow/core/common_runtime/gpu/gpu_device.cc:1510] Created device /job:localhost/replica:0/task:0/device:GPU:0 with 14626 MB memory:  -> device: 0, name: Tesla T4",
    "xFormers not available",
    "A matching Triton is not available, some optimizations will not be enabled",
    "Failed to load image Python extension: libc10_cuda.so: cannot open shared object file: No such file or directory",
    "UserWarning: Failed to load image Python extension: ''",
    "2024-01-01 00:00:00.000000: E tensorflow/compiler/xla/stream_executor/cuda/cuda_dnn.cc:9342] Unable to register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been registered",
    "2024-01-01 00:00:00.000000: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find TensorRT",
    "[INFO] Best model saved. Error rate 0.0412",
    "Found cached dataset imdb. Loading cached processed dataset at /root/.cache/huggingface/datasets/imdb/plain_text/cache-1.arrow",
    "Token indices sequence length is longer than the specified maximum sequence length for this model (612 > 512). Running this sequence through the model will result in indexing errors",
    "torch.distributed.elastic.multiprocessing.redirects: [WARNING] NOTE: Redirects are currently not supported in Windows or MacOs.",
    "The `use_cache=True` is incompatible with gradient checkpointing. Setting `use_cache=False`...",
    "WARNING:absl:Found untraced functions such as _jit_compiled_convolution_op while saving (showing 5 of 5). These functions will not be directly callable after loading.",
    "/opt/conda/lib/python3.10/site-packages/torch/optim/lr_scheduler.py:138: UserWarning: Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and later, you should call them in the opposite order",
    "[2024-01-01 00:00:00,000] [INFO] [logging.py:96:log_dist] [Rank 0] Reducer buckets have been rebuilt in this iteration.",
    "GPU available: True (cuda), used: True",
    "`Trainer.fit` stopped: `max_epochs=3` reached.",
    "Using /root/.cache/torch_extensions/py310_cu118 as PyTorch extensions root...",
    "ninja: no work to do.",
    "ip-10-0-0-1:123:456 [0] NCCL INFO comm 0x55d8 rank 0 nranks 2 cudaDev 0 busId 1e0 commId 0x1234 - Init COMPLETE",
    "2024-01-01 00:00:00,000 sagemaker-training-toolkit INFO     No Neurons detected (normal if no neurons installed)",
    "[2024-01-01 00:00:00.000 algo-1:31 INFO utils.py:27] RULE_JOB_STOP_SIGNAL_FILENAME: None",
    "EarlyStopping counter: 3 out of 10",
    "Restoring model weights from the end of the best epoch: 7.",
    "[rank0]:[W ProcessGroupNCCL.cpp:4115] Warning: WARNING: process group has NOT been destroyed before we destruct ProcessGroupNCCL. On normal program exit, the application should call destroy_process_group to ensure that any pending NCCL operations have finished in this process.",
    "(raylet) [2024-01-01 00:00:00,000 E 123 456] (raylet) file_system_monitor.cc:111: /tmp/ray/session is over 95% full, available space: 1234; capacity: 5678. Object creation will fail if spilling is required.",
    "2024-01-01 00:00:00,000\tINFO tune.py:1009 -- Total run time: 45.20 seconds (44.90 seconds for the tuning loop).",
    "##[warning]Node.js 16 actions are deprecated. Please update the following actions to use Node.js 20: actions/checkout@v3.",
    "debconf: unable to initialize frontend: Dialog",
    "==> WARNING: A newer version of conda exists. <==",
    "WARNING: You are using pip version 21.1.1; however, version 23.0.1 is available.",
    "Ran 42 tests in 3.214s",
    "0 failed, 42 passed in 12.31s",
    "/usr/local/lib/python3.10/dist-packages/torch/cuda/__init__.py:628: UserWarning: Can't initialize NVML",
    "2024-01-01 00:00:00.000000: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders.",
    "2024-01-01 00:00:00.000000: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:479] Unable to register cuFFT factory: Attempting to register factory for plugin cuFFT when one has already been registered",
    "2024-01-01 00:00:00.000000: E external/local_xla/xla/stream_executor/cuda/cuda_blas.cc:1442] Unable to register cuBLAS factory: Attempting to register factory for plugin cuBLAS when one has already been registered",
    "Some weights of BertForSequenceClassification were not initialized from the model checkpoint at bert-base-uncased and are newly initialized: ['classifier.bias', 'classifier.weight']",
    "You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.",
    "max_steps is given, it will override any value given in num_train_epochs",
    "Detected kernel version 5.4.0, which is below the recommended minimum of 5.5.0; this can cause the process to hang. It is recommended to upgrade the kernel to the minimum version or higher.",
    "[WARNING] cpu_adam cuda is missing or is incompatible with installed torch, only cpu ops can be compiled!",
    "[2024-01-01 00:00:00,000] [WARNING] [stage3.py:1850:step] 1 pytorch allocator cache flushes since last step. this happens when there is high memory pressure and is detrimental to performance.",
    "torch.distributed.elastic.multiprocessing.redirects: [WARNING] NOTE: Redirects are currently not supported in Windows or MacOs.",
    'wandb: WARNING Saving files without folders. If you want to preserve subdirectories pass base_path to wandb.save, i.e. wandb.save("/mnt/folder/file.h5", base_path="/mnt")',
    "/usr/local/lib/python3.10/dist-packages/transformers/training_args.py:1525: FutureWarning: `evaluation_strategy` is deprecated and will be removed in version 4.46 of Transformers. Use `eval_strategy` instead",
    "huggingface/tokenizers: The current process just got forked, after parallelism has already been used. Disabling parallelism to avoid deadlocks...",
    "Could not estimate the number of tokens of the input, floating-point operations will not be computed",
    "Failed to detect the name of this notebook, you can set it manually with the WANDB_NOTEBOOK_NAME environment variable to enable code saving.",
    "Unable to find acceptable character detection dependency (chardet or charset_normalizer).",
    "/usr/lib/python3/dist-packages/requests/__init__.py:89: RequestsDependencyWarning: urllib3 (1.26.18) or chardet (3.0.4) doesn't match a supported version!",
]

PREFIXES = {"bare": "", "timestamp": "2024-05-01T12:00:00.000Z ", "mpirun rank": "[1,0]<stderr>:"}

CASES = [(cat, text) for cat, texts in CANONICAL.items() for text in texts]


@pytest.fixture(scope="module")
def lib():
    return default_library()


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("category", "text"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)]
)
def test_canonical_message_lands_in_its_category(lib, prefix, category, text):
    inv = classify(evidence(PREFIXES[prefix] + text), lib)
    assert (inv.finding.category, inv.finding.rule != FALLBACK_RULE) == (category, True), (
        inv.finding.rule
    )


def test_every_failure_category_has_canonical_messages():
    failing = set(CATEGORIES) - {"none", "unknown"}
    assert failing <= set(CANONICAL), failing - set(CANONICAL)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "text", CANONICAL_NOISE, ids=[f"noise-{i}" for i in range(len(CANONICAL_NOISE))]
)
def test_canonical_noise_stays_healthy(lib, prefix, text):
    inv = classify(evidence(PREFIXES[prefix] + text), lib)
    assert inv.finding.category == "none", inv.finding.rule
