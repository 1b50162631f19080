"""Containers: ``dockerize`` a pipeline into an image, ``run`` it locally, on Batch or SageMaker.

Modules: ``project`` (the user's package: name, source fingerprint),
``wheels`` (the wheelhouse built on the host), ``context`` (the Docker build
context from the template in ``dsdt/_dockerizer``), ``engine`` (the Docker
Engine API), ``registry`` (generic registries and ECR), ``dockerize`` (the
whole build), ``local`` (the Local backend), ``aws`` (AWS Batch and SageMaker)
and ``run`` (checks the arguments, picks the backend, pulls the output).
"""
