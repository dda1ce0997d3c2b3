-- One database per service (DESIGN.md §5), owned by the role the services use.
-- Runs once, when the PostgreSQL volume is first initialised.
CREATE DATABASE identity;
CREATE DATABASE payments;
CREATE DATABASE notify;
CREATE DATABASE console;
