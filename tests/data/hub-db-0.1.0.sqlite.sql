PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE sites (
	id VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	ack_target_s FLOAT NOT NULL, 
	arrival_target_s FLOAT NOT NULL, 
	escalation JSON DEFAULT '[]' NOT NULL, 
	reminder_every_s FLOAT DEFAULT '60' NOT NULL, 
	rules JSON DEFAULT '{}' NOT NULL, 
	active BOOLEAN DEFAULT '1' NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO sites VALUES('_org','Organisation: desk and technicians','urban','Asia/Shanghai',60.0,60.0,'[]',60.0,'{}',1);
INSERT INTO sites VALUES('town','Town station','urban','Asia/Shanghai',120.0,900.0,'[{"role": "oncall", "after_s": 0.0}, {"role": "backup", "after_s": 180.0}, {"role": "supervisor", "after_s": 360.0}, {"role": "family", "after_s": 600.0}]',60.0,'{"low_battery": {"page": true}}',1);
INSERT INTO sites VALUES('village','Village station','rural','Asia/Shanghai',120.0,1800.0,'[{"role": "oncall", "after_s": 0.0}, {"role": "backup", "after_s": 180.0}, {"role": "supervisor", "after_s": 360.0}, {"role": "family", "after_s": 600.0}]',60.0,'{}',1);
CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	home VARCHAR(64) NOT NULL, 
	device VARCHAR(64) NOT NULL, 
	kind VARCHAR(48) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	opened_at FLOAT NOT NULL, 
	first_event_t FLOAT NOT NULL, 
	last_event_at FLOAT NOT NULL, 
	event_count INTEGER NOT NULL, 
	acknowledged_by VARCHAR(64), 
	acknowledged_at FLOAT, 
	on_site_by VARCHAR(64), 
	on_site_at FLOAT, 
	resolved_by VARCHAR(64), 
	resolved_at FLOAT, 
	resolution VARCHAR(32), 
	resolution_note TEXT, 
	data JSON NOT NULL, 
	paging BOOLEAN NOT NULL, 
	level INTEGER NOT NULL, 
	next_escalation_at FLOAT, 
	next_reminder_at FLOAT, 
	ack_due_at FLOAT, 
	arrival_due_at FLOAT, 
	ack_breached BOOLEAN NOT NULL, 
	arrival_breached BOOLEAN NOT NULL, 
	recovered_at FLOAT, 
	PRIMARY KEY (id)
);
INSERT INTO alerts VALUES(1,'home-1','','call','critical','resolved',1764000000.0,1764000000.0,1764000000.0,1,'cg-a',1764000200.0,'cg-a',1764000200.0,'cg-a',1764000200.0,'real','helped up','{"device": "btn", "n": 1}',1,1,1764000360.0,1764000260.0,1764000120.0,1764000900.0,1,0,NULL);
INSERT INTO alerts VALUES(2,'home-2','','fall','critical','open',1764000000.0,1764000000.0,1764000000.0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"device": "mat", "n": 2}',1,1,1764000360.0,1764000260.0,1764000120.0,1764000900.0,1,0,NULL);
INSERT INTO alerts VALUES(3,'home-3','mat','low_battery','low','open',1764000000.0,1764000000.0,1764000000.0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"device": "mat", "n": 3}',0,0,NULL,NULL,NULL,NULL,0,0,NULL);
INSERT INTO alerts VALUES(4,'home-9','','unknown_home','high','open',1764000000.0,1764000000.0,1764000000.0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"device": "btn"}',1,0,NULL,1764000260.0,NULL,NULL,0,0,NULL);
INSERT INTO alerts VALUES(5,'home-9','','call','critical','open',1764000000.0,1764000000.0,1764000000.0,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{"device": "btn", "n": 4}',1,0,NULL,1764000260.0,NULL,NULL,0,0,NULL);
CREATE TABLE silences (
	id INTEGER NOT NULL, 
	home VARCHAR(64) NOT NULL, 
	"by" VARCHAR(64) NOT NULL, 
	start FLOAT NOT NULL, 
	"end" FLOAT NOT NULL, 
	reason TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO silences VALUES(1,'home-2','cg-a',1764000200.0,1764003800.0,'on site');
CREATE TABLE agent_status (
	home VARCHAR(64) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	version VARCHAR(32), 
	outbox_depth INTEGER, 
	clock_synced BOOLEAN, 
	t FLOAT, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (home)
);
INSERT INTO agent_status VALUES('home-1','online','0.1.0',0,1,1764000000.0,1764000000.0);
CREATE TABLE dead_letters (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	topic VARCHAR(512) NOT NULL, 
	payload BLOB NOT NULL, 
	error TEXT NOT NULL, 
	attempts INTEGER NOT NULL, 
	home VARCHAR(64), 
	PRIMARY KEY (id)
);
INSERT INTO dead_letters VALUES(1,1764000000.0,'bw/v1/home-2/events',X'ff7b','not JSON',3,'home-2');
CREATE TABLE audit (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	action VARCHAR(48) NOT NULL, 
	alert_id INTEGER, 
	home VARCHAR(64), 
	detail JSON NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO audit VALUES(1,1764000000.0,'system','opened',1,'home-1','{"device": "btn", "t": 1764000000.0}');
INSERT INTO audit VALUES(2,1764000000.0,'system','opened',2,'home-2','{"device": "mat", "t": 1764000000.0}');
INSERT INTO audit VALUES(3,1764000000.0,'system','opened',3,'home-3','{"device": "mat", "t": 1764000000.0}');
INSERT INTO audit VALUES(4,1764000000.0,'system','opened',4,'home-9','{"device": "btn", "t": 1764000000.0}');
INSERT INTO audit VALUES(5,1764000000.0,'system','opened',5,'home-9','{"device": "btn", "t": 1764000000.0}');
INSERT INTO audit VALUES(6,1764000000.0,'system','paged',1,'home-1','{"caregiver": "cg-a", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO audit VALUES(7,1764000000.0,'system','paged',2,'home-2','{"caregiver": "cg-a", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO audit VALUES(8,1764000000.0,'system','paged',4,'home-9','{"caregiver": "desk-li", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO audit VALUES(9,1764000000.0,'system','paged',5,'home-9','{"caregiver": "desk-li", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO audit VALUES(10,1764000200.0,'system','escalated',1,'home-1','{"level": 1, "role": "backup"}');
INSERT INTO audit VALUES(11,1764000200.0,'system','sla_ack_breached',1,'home-1','{}');
INSERT INTO audit VALUES(12,1764000200.0,'system','escalated',2,'home-2','{"level": 1, "role": "backup"}');
INSERT INTO audit VALUES(13,1764000200.0,'system','sla_ack_breached',2,'home-2','{}');
INSERT INTO audit VALUES(14,1764000200.0,'system','paged',1,'home-1','{"caregiver": "cg-a", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO audit VALUES(15,1764000200.0,'system','paged',1,'home-1','{"caregiver": "cg-b", "attempt": 1, "reason": "escalation", "level": 1}');
INSERT INTO audit VALUES(16,1764000200.0,'system','paged',2,'home-2','{"caregiver": "cg-a", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO audit VALUES(17,1764000200.0,'system','paged',2,'home-2','{"caregiver": "cg-b", "attempt": 1, "reason": "escalation", "level": 1}');
INSERT INTO audit VALUES(18,1764000200.0,'system','paged',4,'home-9','{"caregiver": "desk-li", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO audit VALUES(19,1764000200.0,'system','paged',5,'home-9','{"caregiver": "desk-li", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO audit VALUES(20,1764000200.0,'cg-a','acknowledged',1,'home-1','{"from": "open"}');
INSERT INTO audit VALUES(21,1764000200.0,'cg-a','on_site',1,'home-1','{"from": "acknowledged"}');
INSERT INTO audit VALUES(22,1764000200.0,'cg-a','resolved',1,'home-1','{"from": "on_site", "resolution": "real", "note": "helped up"}');
INSERT INTO audit VALUES(23,1764000200.0,'cg-a','silenced',NULL,'home-2','{"until": 1764003800.0, "reason": "on site"}');
CREATE TABLE homes (
	id VARCHAR(64) NOT NULL, 
	site_id VARCHAR(64) NOT NULL, 
	address VARCHAR(400) NOT NULL, 
	resident_name VARCHAR(200) NOT NULL, 
	doctor_notify JSON NOT NULL, 
	rules JSON DEFAULT '{}' NOT NULL, 
	active BOOLEAN DEFAULT '1' NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(site_id) REFERENCES sites (id)
);
INSERT INTO homes VALUES('home-1','town','Qingshan Road 12','Wang Guirong','["json://doctor/"]','{"bed_exit": {"page": true}}',1);
INSERT INTO homes VALUES('home-2','town','Hill Lane 3','Li Xiu','[]','{}',1);
INSERT INTO homes VALUES('home-3','village','Shangping 7','Zhao Ming','[]','{}',1);
CREATE TABLE caregivers (
	id VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	site_id VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	notify JSON NOT NULL, 
	active BOOLEAN NOT NULL, 
	home_id VARCHAR(64), 
	PRIMARY KEY (id), 
	FOREIGN KEY(site_id) REFERENCES sites (id)
);
INSERT INTO caregivers VALUES('cg-a','Zhang Min','town','oncall','["json://a/"]',1,NULL);
INSERT INTO caregivers VALUES('cg-b','Huang Li','town','backup','["json://fail-b/", "json://b/"]',1,NULL);
INSERT INTO caregivers VALUES('cg-v','Chen Bo','village','oncall','["json://v/"]',1,NULL);
INSERT INTO caregivers VALUES('desk-li','Li Na','_org','desk','["json://desk/"]',1,NULL);
INSERT INTO caregivers VALUES('tech-wu','Wu Gang','_org','technician','["json://tech/"]',1,NULL);
INSERT INTO caregivers VALUES('fam-home-1-1','Son','town','family','["json://son/"]',1,'home-1');
INSERT INTO caregivers VALUES('doc-home-1','Doctor of Wang Guirong','town','doctor','["json://doctor/"]',1,'home-1');
CREATE TABLE events (
	home VARCHAR(64) NOT NULL, 
	id VARCHAR(80) NOT NULL, 
	device VARCHAR(64) NOT NULL, 
	kind VARCHAR(48) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	seq INTEGER NOT NULL, 
	t FLOAT NOT NULL, 
	data JSON NOT NULL, 
	received_at FLOAT NOT NULL, 
	received_order INTEGER NOT NULL, 
	clock_untrusted BOOLEAN NOT NULL, 
	alert_id INTEGER, 
	PRIMARY KEY (home, id), 
	FOREIGN KEY(alert_id) REFERENCES alerts (id)
);
INSERT INTO events VALUES('home-1','e-1','btn','call','critical',1,1764000000.0,'{"n": 1}',1764000000.0,1,0,1);
INSERT INTO events VALUES('home-2','e-2','mat','fall','critical',2,1764000000.0,'{"n": 2}',1764000000.0,2,0,2);
INSERT INTO events VALUES('home-3','e-3','mat','low_battery','critical',3,1764000000.0,'{"n": 3}',1764000000.0,3,0,3);
INSERT INTO events VALUES('home-9','e-4','btn','call','critical',4,1764000000.0,'{"n": 4}',1764000000.0,4,0,5);
CREATE TABLE rota_shifts (
	id INTEGER NOT NULL, 
	site_id VARCHAR(64) NOT NULL, 
	caregiver_id VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	days JSON NOT NULL, 
	start VARCHAR(5) NOT NULL, 
	"end" VARCHAR(5) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(site_id) REFERENCES sites (id), 
	FOREIGN KEY(caregiver_id) REFERENCES caregivers (id)
);
INSERT INTO rota_shifts VALUES(1,'town','cg-a','oncall','["mon", "tue"]','20:00','08:00');
CREATE TABLE rota_overrides (
	id INTEGER NOT NULL, 
	site_id VARCHAR(64) NOT NULL, 
	caregiver_id VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	start_at FLOAT NOT NULL, 
	end_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(site_id) REFERENCES sites (id), 
	FOREIGN KEY(caregiver_id) REFERENCES caregivers (id)
);
INSERT INTO rota_overrides VALUES(1,'town','cg-b','oncall',1795579200.0,1795586400.0);
CREATE TABLE pages (
	id INTEGER NOT NULL, 
	alert_id INTEGER NOT NULL, 
	caregiver_id VARCHAR(64) NOT NULL, 
	level INTEGER NOT NULL, 
	reason VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	created_at FLOAT NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at FLOAT NOT NULL, 
	sent_at FLOAT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(alert_id) REFERENCES alerts (id), 
	FOREIGN KEY(caregiver_id) REFERENCES caregivers (id)
);
INSERT INTO pages VALUES(1,1,'cg-a',0,'alert','sent',1764000000.0,1,1764000000.0,1764000000.0);
INSERT INTO pages VALUES(2,2,'cg-a',0,'alert','sent',1764000000.0,1,1764000000.0,1764000000.0);
INSERT INTO pages VALUES(3,4,'desk-li',0,'alert','sent',1764000000.0,1,1764000000.0,1764000000.0);
INSERT INTO pages VALUES(4,5,'desk-li',0,'alert','sent',1764000000.0,1,1764000000.0,1764000000.0);
INSERT INTO pages VALUES(5,1,'cg-a',0,'reminder','sent',1764000200.0,1,1764000200.0,1764000200.0);
INSERT INTO pages VALUES(6,1,'cg-b',1,'escalation','sent',1764000200.0,1,1764000200.0,1764000200.0);
INSERT INTO pages VALUES(7,2,'cg-a',0,'reminder','sent',1764000200.0,1,1764000200.0,1764000200.0);
INSERT INTO pages VALUES(8,2,'cg-b',1,'escalation','sent',1764000200.0,1,1764000200.0,1764000200.0);
INSERT INTO pages VALUES(9,4,'desk-li',0,'reminder','sent',1764000200.0,1,1764000200.0,1764000200.0);
INSERT INTO pages VALUES(10,5,'desk-li',0,'reminder','sent',1764000200.0,1,1764000200.0,1764000200.0);
CREATE TABLE deliveries (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	alert_id INTEGER NOT NULL, 
	caregiver_id VARCHAR(64) NOT NULL, 
	channel VARCHAR(400) NOT NULL, 
	ok BOOLEAN NOT NULL, 
	error TEXT, 
	at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES pages (id)
);
INSERT INTO deliveries VALUES(1,1,1,'cg-a','json://a/',1,NULL,1764000000.0);
INSERT INTO deliveries VALUES(2,2,2,'cg-a','json://a/',1,NULL,1764000000.0);
INSERT INTO deliveries VALUES(3,3,4,'desk-li','json://desk/',1,NULL,1764000000.0);
INSERT INTO deliveries VALUES(4,4,5,'desk-li','json://desk/',1,NULL,1764000000.0);
INSERT INTO deliveries VALUES(5,5,1,'cg-a','json://a/',1,NULL,1764000200.0);
INSERT INTO deliveries VALUES(6,6,1,'cg-b','json://fail-b/',0,'refused',1764000200.0);
INSERT INTO deliveries VALUES(7,6,1,'cg-b','json://b/',1,NULL,1764000200.0);
INSERT INTO deliveries VALUES(8,7,2,'cg-a','json://a/',1,NULL,1764000200.0);
INSERT INTO deliveries VALUES(9,8,2,'cg-b','json://fail-b/',0,'refused',1764000200.0);
INSERT INTO deliveries VALUES(10,8,2,'cg-b','json://b/',1,NULL,1764000200.0);
INSERT INTO deliveries VALUES(11,9,4,'desk-li','json://desk/',1,NULL,1764000200.0);
INSERT INTO deliveries VALUES(12,10,5,'desk-li','json://desk/',1,NULL,1764000200.0);
CREATE INDEX ix_alerts_home ON alerts (home);
CREATE INDEX ix_alerts_state ON alerts (state);
CREATE INDEX alerts_group ON alerts (home, kind, device, state);
CREATE INDEX ix_silences_home ON silences (home);
CREATE INDEX ix_dead_letters_home ON dead_letters (home);
CREATE INDEX ix_dead_letters_at ON dead_letters (at);
CREATE INDEX ix_audit_at ON audit (at);
CREATE INDEX ix_audit_alert_id ON audit (alert_id);
CREATE INDEX ix_events_received_order ON events (received_order);
CREATE INDEX ix_rota_shifts_site_id ON rota_shifts (site_id);
CREATE INDEX ix_rota_overrides_site_id ON rota_overrides (site_id);
CREATE INDEX ix_pages_alert_id ON pages (alert_id);
CREATE INDEX ix_pages_state ON pages (state);
CREATE INDEX ix_deliveries_page_id ON deliveries (page_id);
CREATE INDEX ix_deliveries_alert_id ON deliveries (alert_id);
COMMIT;
