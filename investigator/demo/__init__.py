"""A realistic AWS world for the investigator, on moto: the incidents behind examples/ and
more, seeded into Step Functions, SageMaker, CloudWatch Logs and ECR (`make demo`, e2e tests,
`make bench`). Development only: it imports moto, so it stays out of the Lambda package."""
