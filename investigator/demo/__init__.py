"""A realistic AWS world for the investigator, on moto: the incidents of ../shared/seeds/ and
more, seeded into Step Functions, SageMaker, CloudWatch Logs and ECR (`make demo`, e2e tests,
`make bench`). Development only: it imports moto, so it stays out of the Lambda package."""
