#include <gtest/gtest.h>

#include "packs_a_testing.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using packs_a_test::Make;
using packs_a_test::RecordingContext;
using packs_a_test::Unknown;
using packs_a_test::Word;
using packs_a_test::Words;

RecordingContext Disk(std::string_view line, std::string cwd = "") {
  RecordingContext ctx;
  EXPECT_TRUE(packs_a_test::Run(DiskPack(), Words(line, std::move(cwd)), ctx)) << line;
  return ctx;
}

void ExpectCritical(std::string_view line, std::string_view op_class) {
  RecordingContext ctx = Disk(line);
  EXPECT_TRUE(ctx.HasClass(op_class)) << line;
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kCritical) << line;
}

// --- dd ------------------------------------------------------------------------

TEST(DiskPackDd, WritingADeviceIsAWipe) {
  ExpectCritical("dd if=/dev/zero of=/dev/sda bs=1M", "disk.wipe");
  ExpectCritical("dd if=/dev/urandom of=/dev/nvme0n1 bs=4M status=progress", "disk.wipe");
  ExpectCritical("dd if=ubuntu.iso of=/dev/disk/by-id/usb-x", "disk.wipe");
}

TEST(DiskPackDd, UnknownOutputIsCritical) {
  RecordingContext ctx;
  packs_a_test::Run(DiskPack(), Make({Word("dd"), Word("if=/dev/zero"), Unknown("of=$DEV")}), ctx);
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kCritical);
}

TEST(DiskPackDd, OverwritingADatabaseFileIsHeld) {
  EXPECT_TRUE(Disk("dd if=/dev/zero of=/srv/app/prod.db bs=1M count=1").Held());
}

TEST(DiskPackDd, ReadingADeviceIsAllowed) {
  RecordingContext ctx = Disk("dd if=/dev/sda of=/tmp/mbr.bin bs=512 count=1");
  EXPECT_FALSE(ctx.Held());
  EXPECT_TRUE(ctx.HasClass("read.only"));
  EXPECT_FALSE(Disk("dd if=/dev/sda of=/dev/null bs=1M").Held());
  EXPECT_FALSE(Disk("dd if=/dev/sda bs=512 count=1").Held());
  EXPECT_FALSE(Disk("dd if=/dev/zero of=swap.img bs=1M count=64", "/home/dev/vm").Held());
}

// --- mkfs and friends ----------------------------------------------------------

TEST(DiskPackFormat, MkfsOnDevices) {
  ExpectCritical("mkfs.ext4 /dev/sdb1", "disk.format");
  ExpectCritical("mkfs -t xfs -f /dev/nvme1n1", "disk.format");
  ExpectCritical("mke2fs -L data /dev/vdb", "disk.format");
  ExpectCritical("mkswap /dev/sdc2", "disk.format");
  ExpectCritical("mkfs.vfat -F 32 /dev/mmcblk0p1", "disk.format");
}

TEST(DiskPackFormat, ImageFilesAndHelpAreAllowed) {
  EXPECT_FALSE(Disk("mkfs.ext4 -F disk.img", "/home/dev/vm").Held());
  EXPECT_FALSE(Disk("mkswap /swapfile").Held());
  EXPECT_TRUE(Disk("mkfs.ext4 -V").actions.empty());
  EXPECT_TRUE(Disk("mke2fs -n /dev/sdb1").actions.empty());
}

TEST(DiskPackFormat, UnknownDeviceIsCritical) {
  RecordingContext ctx;
  packs_a_test::Run(DiskPack(), Make({Word("mkfs.xfs"), Unknown("$DISK")}), ctx);
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kCritical);
}

// --- wiping --------------------------------------------------------------------

TEST(DiskPackWipe, Wipefs) {
  ExpectCritical("wipefs -a /dev/sdb", "disk.wipe");
  ExpectCritical("wipefs --all --force /dev/sdb1", "disk.wipe");
  ExpectCritical("wipefs -o 0x438 /dev/sdb1", "disk.wipe");
  EXPECT_TRUE(Disk("wipefs /dev/sdb").actions.empty());
  EXPECT_TRUE(Disk("wipefs -n -a /dev/sdb").actions.empty());
}

TEST(DiskPackWipe, Blkdiscard) {
  ExpectCritical("blkdiscard -f /dev/nvme0n1", "disk.wipe");
}

TEST(DiskPackWipe, Sgdisk) {
  ExpectCritical("sgdisk --zap-all /dev/sda", "disk.wipe");
  ExpectCritical("sgdisk -Z /dev/sda", "disk.wipe");
  ExpectCritical("sgdisk -d 1 /dev/sda", "disk.partition");
  EXPECT_TRUE(Disk("sgdisk -p /dev/sda").actions.empty());
  EXPECT_TRUE(Disk("sgdisk --print /dev/sda").actions.empty());
  EXPECT_TRUE(Disk("sgdisk --pretend --zap-all /dev/sda").actions.empty());
}

TEST(DiskPackWipe, HdparmSecurityErase) {
  ExpectCritical("hdparm --user-master u --security-erase pw /dev/sda", "disk.wipe");
  EXPECT_TRUE(Disk("hdparm -I /dev/sda").actions.empty());
}

TEST(DiskPackWipe, NvmeFormatAndSanitize) {
  ExpectCritical("nvme format /dev/nvme0n1 --ses=1", "disk.wipe");
  ExpectCritical("nvme sanitize /dev/nvme0 -a 2", "disk.wipe");
  EXPECT_TRUE(Disk("nvme list").actions.empty());
  EXPECT_TRUE(Disk("nvme smart-log /dev/nvme0").actions.empty());
}

TEST(DiskPackWipe, BadblocksWriteMode) {
  ExpectCritical("badblocks -wsv /dev/sdb", "disk.wipe");
  EXPECT_TRUE(Disk("badblocks -sv /dev/sdb").actions.empty());
}

TEST(DiskPackWipe, CryptsetupErase) {
  ExpectCritical("cryptsetup luksErase /dev/sdb2", "disk.wipe");
  ExpectCritical("cryptsetup -q erase /dev/sdb2", "disk.wipe");
  ExpectCritical("cryptsetup luksFormat /dev/sdb2", "disk.format");
  EXPECT_TRUE(Disk("cryptsetup luksKillSlot /dev/sdb2 1").Held());
  EXPECT_TRUE(Disk("cryptsetup open /dev/sdb2 secret").actions.empty());
  EXPECT_TRUE(Disk("cryptsetup status secret").actions.empty());
}

TEST(DiskPackWipe, MdadmZeroSuperblock) {
  ExpectCritical("mdadm --zero-superblock /dev/sdb1", "disk.wipe");
  EXPECT_TRUE(Disk("mdadm --detail /dev/md0").actions.empty());
}

// --- partition editors ---------------------------------------------------------

TEST(DiskPackPartition, Parted) {
  ExpectCritical("parted /dev/sda rm 1", "disk.wipe");
  ExpectCritical("parted -s /dev/sdb mklabel gpt", "disk.wipe");
  ExpectCritical("parted -s -a optimal /dev/sdb mkpart primary 0% 100%", "disk.partition");
  EXPECT_TRUE(Disk("parted -l").actions.empty());
  EXPECT_TRUE(Disk("parted /dev/sda print").actions.empty());
  EXPECT_TRUE(Disk("parted -s /dev/sda unit MB print").actions.empty());
  // The interactive prompt on a device may do anything.
  EXPECT_TRUE(Disk("parted /dev/sda").Held());
}

TEST(DiskPackPartition, FdiskFamily) {
  EXPECT_TRUE(Disk("fdisk -l").actions.empty());
  EXPECT_TRUE(Disk("fdisk -l /dev/sda").actions.empty());
  ExpectCritical("fdisk /dev/sda", "disk.partition");
  ExpectCritical("gdisk /dev/nvme0n1", "disk.partition");
  EXPECT_TRUE(Disk("sfdisk -d /dev/sda").actions.empty());
  EXPECT_TRUE(Disk("sfdisk --list").actions.empty());
  ExpectCritical("sfdisk /dev/sda", "disk.partition");
  ExpectCritical("sfdisk --delete /dev/sda 2", "disk.wipe");
  EXPECT_TRUE(Disk("sfdisk -n /dev/sda").actions.empty());
}

// --- volumes and pools -----------------------------------------------------------

TEST(DiskPackVolumes, LvmRemovals) {
  ExpectCritical("lvremove -f vg0/data", "disk.volume.delete");
  ExpectCritical("vgremove vg0", "disk.volume.delete");
  ExpectCritical("pvremove /dev/sdb1", "disk.volume.delete");
  EXPECT_TRUE(Disk("lvremove --test vg0/data").actions.empty());
}

TEST(DiskPackVolumes, Zfs) {
  ExpectCritical("zpool destroy tank", "disk.volume.delete");
  ExpectCritical("zfs destroy -r tank/data", "disk.volume.delete");
  RecordingContext snapshot = Disk("zfs destroy tank/data@2024-06-01");
  EXPECT_TRUE(snapshot.HasClass("backup.delete"));
  EXPECT_TRUE(snapshot.Held());
  EXPECT_TRUE(Disk("zfs destroy -nv tank/data").actions.empty());
  EXPECT_TRUE(Disk("zfs list -t snapshot").actions.empty());
  EXPECT_TRUE(Disk("zpool status").actions.empty());
  EXPECT_TRUE(Disk("zfs rollback -r tank/data@x").Held());
}

TEST(DiskPackVolumes, BtrfsSubvolumeDelete) {
  EXPECT_TRUE(Disk("btrfs subvolume delete /.snapshots/12/snapshot").HasClass("backup.delete"));
  ExpectCritical("btrfs subvolume delete /srv/vol", "disk.volume.delete");
  EXPECT_TRUE(Disk("btrfs subvolume list /").actions.empty());
}

TEST(DiskPackReads, SmartctlIsNotInThePack) {
  RecordingContext ctx;
  EXPECT_FALSE(packs_a_test::Run(DiskPack(), Words("smartctl -a /dev/nvme0"), ctx));
  EXPECT_FALSE(packs_a_test::Run(DiskPack(), Words("lsblk"), ctx));
}

}  // namespace
}  // namespace dualkey::shell
