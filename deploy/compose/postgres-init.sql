-- Runs once, when the postgres volume is empty (docker-entrypoint-initdb.d).
-- One server, one database per tier: a service never reads another tier's database, and each
-- database is backed up and restored as a unit (deploy/backup/).
create database pm_metadata;
create database pm_content;
create database pm_queue;
